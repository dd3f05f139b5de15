"""Parity of the PyTorch training code with the engine on an exported model folder.

Runs `node dist/cli.js export-case --model DIR` (the engine on teacher-forced random bits: its token ids, T5
features, the codes fed to every scale, the guided rows' logits of every scale, the summed codes and the
decoded image), recomputes all of it with the training code from the exported files, and reports the
largest differences. Exit status 1 when a difference is over tolerance: a model that fails this would draw
static in the engine however well it trained.

usage: python3 tools/train/parity.py --model DIR [--resolution 0.25M] [--prompt P] [--case DIR] [--out report.json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bsq_vae import BSQVAE, codes_from_bits  # noqa: E402
from common import FULL, REPO, SMOKE, schedule_of  # noqa: E402
from infinity_model import Infinity, sequence_tables  # noqa: E402
from t5 import T5Encoder  # noqa: E402

TOL = 2e-4  # relative to max(1, |reference|max): fp32 on both sides, only summation order differs


def load_model(model_dir):
    with open(os.path.join(model_dir, "manifest.json")) as f:
        man = json.load(f)
    cfg = next(c for c in (FULL, SMOKE) if c["name"] == man["name"])
    t5 = T5Encoder(os.path.join(model_dir, man["textEncoder"]))
    gpt = Infinity(cfg, t5.d_model)
    gpt.load_state_dict({k: v.float() for k, v in torch.load(os.path.join(model_dir, man["transformer"]), map_location="cpu").items()})
    vae = BSQVAE(cfg["vae"])
    vae.load_state_dict({k: v.float() for k, v in torch.load(os.path.join(model_dir, man["vae"]), map_location="cpu")["vae"].items()})
    return cfg, t5, gpt.eval(), vae.eval()


def compare(name, mine, ref, rows):
    mine = np.asarray(mine, dtype=np.float64).ravel()
    ref = np.asarray(ref, dtype=np.float64).ravel()
    if mine.shape != ref.shape:
        rows.append({"what": name, "ok": False, "error": f"shape {mine.shape} vs engine {ref.shape}"})
        return
    d = float(np.abs(mine - ref).max())
    scale = max(1.0, float(np.abs(ref).max()))
    rows.append({"what": name, "maxAbs": d, "refMaxAbs": float(np.abs(ref).max()), "ok": d <= TOL * scale})


@torch.no_grad()
def check(model_dir, case_dir, resolution, prompt, node):
    if not os.path.exists(os.path.join(case_dir, "case.json")):
        cmd = [node, os.path.join(REPO, "dist", "cli.js"), "export-case", "--model", model_dir, "--resolution", resolution, "--prompt", prompt, "--out", case_dir]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(case_dir, "case.json")) as f:
        case = json.load(f)
    cfg, t5, gpt, vae = load_model(model_dir)
    cfg = dict(cfg, resolution=case["resolution"])
    schedule = [tuple(s) for s in case["schedule"]]
    assert schedule == schedule_of(cfg), (schedule, schedule_of(cfg))
    rows = []
    d = gpt.d
    read = lambda n, dt="<f4": np.fromfile(os.path.join(case_dir, n), dtype=dt)

    # text: token ids and features
    ids = t5.tokenizer.encode(case["prompt"])
    rows.append({"what": "token ids", "ok": ids == case["ids"], "mine": ids, "engine": case["ids"]})
    feats, mask, lens = t5.encode([case["prompt"]])
    compare("T5 features", feats[0], read("text.f32"), rows)

    # codes fed to every scale, from the forced bits
    bits = [torch.from_numpy(read(f"bits{si}.u8", np.uint8).reshape(1, h * w, d)) for si, (h, w) in enumerate(schedule)]
    f_hat, inputs = codes_from_bits(bits, schedule, d)
    for si in range(1, len(schedule)):
        L = schedule[si][0] * schedule[si][1]
        compare(f"codes scale {si}", inputs[si - 1][0], read(f"codes{si}.f32")[: L * d], rows)

    # logits of every scale: conditional row, then the learned unconditional embedding of the same length
    R = case["rows"]
    T = feats.shape[1]
    text = feats
    tmask = mask
    if R == 2:
        text = torch.cat([feats, gpt.cfg_uncond[None, :T] * mask[..., None]], 0)
        tmask = torch.cat([mask, mask], 0)
    ins = [z.expand(R, -1, -1) for z in inputs]
    rope, amask, N, P = sequence_tables(schedule, gpt.C // gpt.H, torch.device("cpu"))
    logits = gpt(text, tmask, ins, schedule, rope, amask, P)
    ref = read("logits.f32")
    o = 0
    s0 = 0
    for si, (h, w) in enumerate(schedule):
        L = h * w
        n = R * L * 2 * d
        compare(f"logits scale {si}", logits[:, s0 : s0 + L], ref[o : o + n], rows)
        o += n
        s0 += L

    # the summed codes and the VAE decoder
    compare("summed codes", f_hat, read("z.f32"), rows)
    img = vae.decoder(f_hat)
    compare("decoded image", img, read("image.f32"), rows)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True)
    ap.add_argument("--resolution", default=None, help="default: the model's trained resolution")
    ap.add_argument("--prompt", default="a red circle at the top left")
    ap.add_argument("--case", default=None, help="reuse / keep the engine's case here (default: a temp folder)")
    ap.add_argument("--out", default=None, help="write the report (JSON) here")
    ap.add_argument("--node", default=os.environ.get("NODE", "node"))
    a = ap.parse_args(argv)
    model = os.path.abspath(a.model)
    with open(os.path.join(model, "manifest.json")) as f:
        res = a.resolution or json.load(f).get("resolution", "0.25M")
    case = a.case or tempfile.mkdtemp(prefix="parity-")
    rows = check(model, case, res, a.prompt, a.node)
    for r in rows:
        if "maxAbs" in r:
            print(f"{'ok  ' if r['ok'] else 'FAIL'} {r['what']:<20} max |diff| {r['maxAbs']:.3g} (reference max {r['refMaxAbs']:.3g})")
        else:
            print(f"{'ok  ' if r['ok'] else 'FAIL'} {r['what']:<20} {r.get('error') or (r.get('mine'), r.get('engine'))}")
    ok = all(r["ok"] for r in rows)
    report = {"model": model, "resolution": res, "prompt": a.prompt, "tolerance": TOL, "torch": torch.__version__, "ok": ok, "rows": rows}
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)
    print("PARITY OK" if ok else "PARITY FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
