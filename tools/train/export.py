"""Export a trained model in the official layout the engine's normal loader reads (src/checkpoint/modelFolder.ts):

  OUT/infinity_shapes.pth        transformer state_dict (official names, blocks.{i}.*), fp16
  OUT/infinity_vae_shapes.pth    {"vae": BSQ-VAE state_dict (encoder + decoder)}, fp16
  OUT/flan-t5-shapes/            the frozen text encoder (config.json, tokenizer.json, model.safetensors)
  OUT/manifest.json              scalekv-model manifest + sha256 of every file, the configs and the training record

usage: python3 tools/train/export.py --ckpt DIR --text-encoder DIR --out DIR [--smoke] [--command "how it was trained"]
"""
import argparse
import json
import os
import shutil
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bsq_vae import BSQVAE  # noqa: E402
from common import ConfigError, get_config, load_checkpoint, sha256  # noqa: E402
from gpt_train import gpt_config, vae_config  # noqa: E402
from infinity_model import Infinity  # noqa: E402
from t5 import T5Encoder  # noqa: E402

TRANSFORMER = "infinity_shapes.pth"
VAE = "infinity_vae_shapes.pth"
TEXT = "flan-t5-shapes"


def dataset_words(data):
    with open(os.path.join(data, "dataset.json")) as f:
        return list(json.load(f)["vocabulary"])


def half(sd):
    return {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in sd.items()}


def randomize(model, seed):
    """Non-trivial random weights (parity tests): every tensor O(1)-scaled so logits and images are far from zero."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("scale_mul_1H11"):
                p.copy_(torch.log(torch.linspace(4, 16, p.numel())).view_as(p))
            elif p.dim() >= 2:
                fan_in = p[0].numel() if p.dim() > 1 else 1
                p.copy_(torch.randn(p.shape, generator=g) / max(1, fan_in) ** 0.5)
            elif n.endswith("weight"):  # norms
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


# what an export writes itself; everything else in a resumed model's manifest (e.g. promptCheckFloor) is carried over.
# Profiles are not: they were calibrated on the old weights and must be made again (npm run calibrate-default).
OWN_FIELDS = {"format", "name", "transformer", "vae", "textEncoder", "resolution", "imageSize", "vocabulary", "files", "training",
              "profile", "profiles"}


def kept_fields(path):
    """the old manifest's own fields, and its training record as `resumedFrom` of the new one (the whole chain)"""
    if not path:
        return {}, None
    with open(path) as f:
        old = json.load(f)
    return {k: v for k, v in old.items() if k not in OWN_FIELDS}, old.get("training")


def export(ckpt, text_encoder, out, smoke=False, command=None, allow_untrained=False, random_init=None, data=None, keep_from=None):
    cfg = get_config(smoke)
    kept, previous = kept_fields(keep_from)
    t5 = T5Encoder(text_encoder)
    vsd, vmeta = load_checkpoint(ckpt, "vae", vae_config(cfg))
    gsd, gmeta = load_checkpoint(ckpt, "gpt", gpt_config(cfg, t5))
    vae = BSQVAE(cfg["vae"])
    gpt = Infinity(cfg, t5.d_model)
    if vsd is None or gsd is None:
        if not allow_untrained:
            raise ConfigError(f"{ckpt} lacks a trained {'VAE' if vsd is None else 'transformer'} for this config")
    # strict loads prove the names and shapes are the architecture's before anything is written
    if vsd is not None:
        vae.load_state_dict(vsd)
    if gsd is not None:
        gpt.load_state_dict(gsd)
    if random_init is not None:
        randomize(vae, random_init)
        randomize(gpt, random_init + 1)
    os.makedirs(out, exist_ok=True)
    torch.save(half(gpt.state_dict()), os.path.join(out, TRANSFORMER))
    torch.save({"vae": half(vae.state_dict())}, os.path.join(out, VAE))
    tdir = os.path.join(out, TEXT)
    if os.path.abspath(tdir) != os.path.abspath(text_encoder):
        shutil.rmtree(tdir, ignore_errors=True)
        shutil.copytree(text_encoder, tdir)
    files = [TRANSFORMER, VAE] + [os.path.join(TEXT, n) for n in sorted(os.listdir(tdir))]
    manifest = {
        "format": "scalekv-model",
        "name": cfg["name"],
        "transformer": TRANSFORMER,
        "vae": VAE,
        "textEncoder": TEXT,
        "resolution": cfg["resolution"],
        "imageSize": cfg["image_size"],
        # the engine names a prompt's words outside this list (src/checkpoint/modelFolder.ts `vocabulary`)
        **({"vocabulary": dataset_words(data)} if data else {}),
        **kept,
        "files": {f: {"sha256": sha256(os.path.join(out, f)), "bytes": os.path.getsize(os.path.join(out, f))} for f in files},
        "training": {
            "command": command or " ".join(sys.argv),
            "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "torch": torch.__version__,
            "vae": {k: (vmeta or {}).get(k) for k in ("config", "step", "train_seconds", "dataset")},
            "transformer": {k: (gmeta or {}).get(k) for k in ("config", "step", "train_seconds", "dataset", "parameters")},
            **({"resumedFrom": previous} if previous else {}),
        },
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(v["bytes"] for v in manifest["files"].values())
    print(f"exported {out}: {total / 2**20:.1f} MiB in {len(files)} files", flush=True)
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--text-encoder", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--data", default=None, help="the training dataset: its vocabulary goes into the manifest")
    ap.add_argument("--keep-fields-from", default=None, help="a resumed model's manifest.json: its fields other than the export's own are kept")
    ap.add_argument("--command", default=None, help="the training command to record in the manifest")
    ap.add_argument("--allow-untrained", action="store_true", help="export initial weights where a checkpoint is missing (parity tests)")
    ap.add_argument("--random-init", type=int, default=None, help="replace every weight by seeded O(1) noise (parity tests only)")
    a = ap.parse_args(argv)
    export(a.ckpt, a.text_encoder, a.out, a.smoke, a.command, a.allow_untrained or a.random_init is not None, a.random_init, a.data, a.keep_fields_from)
    return 0


if __name__ == "__main__":
    sys.exit(main())
