"""Shared pieces of the training scripts: configs, the dataset reader, checkpoints, logs, time budgets.

Runs on Debian's PyTorch 1.13 (CPU, tests) and PyTorch 2.x with CUDA (training); features that only
exist on the newer one (bf16 autocast on CUDA, fused SDPA) are guarded here and nowhere else.
"""
import copy
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# token-map sizes of the 1:1 template (src/model/schedule.ts); 0.06M = first 7, 0.25M = first 10
SCHEDULE_1TO1 = [(1, 1), (2, 2), (4, 4), (6, 6), (8, 8), (12, 12), (16, 16), (20, 20), (24, 24), (32, 32), (40, 40), (48, 48), (64, 64)]
RESOLUTIONS = {"0.06M": 7, "0.25M": 10, "0.60M": 12, "1M": 13}
FINAL_GRID = (64, 64)  # the 1M schedule's last map: RoPE positions are normalised onto it

FULL = {
    "name": "infinity-shapes",
    "resolution": "0.25M",
    "image_size": 512,
    "vae": {"codebook_dim": 16, "base_channels": 32, "channel_mult": [1, 1, 2, 2, 4], "num_res_blocks": 1},
    "gpt": {"depth": 12, "embed_dim": 256, "num_heads": 4, "mlp_ratio": 4.0, "text_max_len": 64, "text_pool_heads": 2, "levels": 15},
    "t5": {"vocab_size": 512, "seed": 2024, "rel_std": 2.0},
}

SMOKE = copy.deepcopy(FULL)
SMOKE.update({"name": "infinity-shapes-smoke", "resolution": "0.06M", "image_size": 256})
SMOKE["vae"].update({"base_channels": 32, "channel_mult": [1, 1, 1, 1, 2]})
SMOKE["gpt"].update({"depth": 2, "embed_dim": 64, "num_heads": 2, "text_max_len": 32, "text_pool_heads": 1})


def get_config(smoke):
    return copy.deepcopy(SMOKE if smoke else FULL)


def schedule_of(cfg):
    return SCHEDULE_1TO1[: RESOLUTIONS[cfg["resolution"]]]


def mlp_hidden(cfg):
    g = cfg["gpt"]
    return int(round(g["embed_dim"] * g["mlp_ratio"] / 256) * 256)


class ConfigError(SystemExit):
    """A dataset or checkpoint that does not belong to this config: stop with one clear line."""

    def __init__(self, msg):
        super().__init__(f"error: {msg}")


# ---------------------------------------------------------------- devices, precision, attention


def pick_device(name=None):
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device):
    """bf16 autocast on CUDA; plain fp32 elsewhere (CPU autocast on 1.13 is too partial to trust)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def sdpa(q, k, v, mask=None, scale=None):
    """Fused attention where PyTorch has it (2.1+ takes `scale`), the math otherwise. mask is additive."""
    if hasattr(F, "scaled_dot_product_attention"):
        try:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
        except TypeError:  # 2.0 has no scale argument
            if scale is not None:
                q = q * (scale * math.sqrt(q.shape[-1]))
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    s = (q @ k.transpose(-1, -2)) * (scale if scale is not None else 1.0 / math.sqrt(q.shape[-1]))
    if mask is not None:
        s = s + mask
    return s.softmax(-1) @ v


def seed_all(seed):
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


# ---------------------------------------------------------------- time budget


class Budget:
    """A wall-clock budget: scripts check `left()` between steps and stop, saving, with `reserve` to spare."""

    def __init__(self, minutes, reserve_s=20.0):
        self.t0 = time.time()
        self.end = self.t0 + minutes * 60.0
        self.reserve = reserve_s

    def left(self):
        return self.end - time.time() - self.reserve

    def elapsed(self):
        return time.time() - self.t0


# ---------------------------------------------------------------- dataset (the generator's contract)


class Dataset:
    """DIR/images.u8 (N x S x S x 3 uint8, HWC), DIR/meta.jsonl (one {"caption", "scene"} per image), DIR/dataset.json."""

    def __init__(self, path, size):
        self.path = path
        info_p = os.path.join(path, "dataset.json")
        if not os.path.exists(info_p):
            raise ConfigError(f"{path} is not a dataset: dataset.json is missing (make one with gpu_run.sh prep)")
        with open(info_p) as f:
            self.info = json.load(f)
        if self.info.get("version") != 1:
            raise ConfigError(f"{info_p}: version {self.info.get('version')} is not the supported version 1")
        if self.info.get("size") != size:
            raise ConfigError(f"{path} holds {self.info.get('size')}x{self.info.get('size')} images; this config trains at {size}x{size}")
        self.count = int(self.info["count"])
        self.size = size
        img_p = os.path.join(path, "images.u8")
        want = self.count * size * size * 3
        got = os.path.getsize(img_p) if os.path.exists(img_p) else -1
        if got != want:
            raise ConfigError(f"{img_p} has {got} bytes; dataset.json says {self.count} images of {size}x{size}x3 = {want} bytes")
        self.images = np.memmap(img_p, dtype=np.uint8, mode="r", shape=(self.count, size, size, 3))
        self.captions, self.kinds, self.shapes = [], [], []
        with open(os.path.join(path, "meta.jsonl")) as f:
            for line in f:
                if line.strip():
                    rec = json.loads(line)
                    scene = rec.get("scene") or {}
                    self.captions.append(rec["caption"])
                    self.kinds.append(scene.get("kind", "single"))
                    self.shapes.append(frozenset(o.get("shape") for o in scene.get("objects") or []))
        if len(self.captions) != self.count:
            raise ConfigError(f"{path}/meta.jsonl has {len(self.captions)} captions for {self.count} images")
        self.vocabulary = list(self.info.get("vocabulary", []))

    def fingerprint(self):
        """Identifies the dataset a checkpoint was trained on (seed, count, size, split)."""
        return {k: self.info.get(k) for k in ("seed", "count", "size", "split")}

    def load_all(self, device, chunk=512):
        """All images as one uint8 tensor [N, 3, S, S] on `device` (12 GB for 16k images at 512: fits an H100)."""
        out = torch.empty((self.count, 3, self.size, self.size), dtype=torch.uint8, device=device)
        for i in range(0, self.count, chunk):
            part = torch.from_numpy(np.ascontiguousarray(self.images[i : i + chunk]))
            out[i : i + len(part)] = part.permute(0, 3, 1, 2).to(device)
        return out


def to_float_image(u8):
    return u8.float().div_(127.5).sub_(1.0)


# ---------------------------------------------------------------- checkpoints


SHARD_BYTES = 15 * 2**20  # every file that comes back from the GPU machine stays under 16 MiB


def save_checkpoint(directory, kind, model, meta, dtype=torch.float16):
    """Weights only (fp16) in shards under 15 MiB plus meta.json; written to a temp name, then renamed."""
    os.makedirs(directory, exist_ok=True)
    sd = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous() for k, v in model.state_dict().items()}
    shards, cur, size = [], {}, 0
    for k, v in sd.items():
        n = v.numel() * v.element_size()
        if cur and size + n > SHARD_BYTES:
            shards.append(cur)
            cur, size = {}, 0
        cur[k] = v
        size += n
    shards.append(cur)
    for old in os.listdir(directory):
        if old.startswith(f"{kind}-") and old.endswith(".pt"):
            os.remove(os.path.join(directory, old))
    files = []
    for i, s in enumerate(shards):
        name = f"{kind}-{i:02d}.pt"
        torch.save(s, os.path.join(directory, name + ".tmp"))
        os.replace(os.path.join(directory, name + ".tmp"), os.path.join(directory, name))
        files.append(name)
    meta = dict(meta, files=files, kind=kind)
    with open(os.path.join(directory, f"{kind}.json.tmp"), "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(os.path.join(directory, f"{kind}.json.tmp"), os.path.join(directory, f"{kind}.json"))


def load_checkpoint(directory, kind, cfg_section, full_cfg=None):
    """(state_dict, meta) or (None, None) when there is none; refuses one made for another config."""
    p = os.path.join(directory, f"{kind}.json")
    if not os.path.exists(p):
        return None, None
    with open(p) as f:
        meta = json.load(f)
    if meta.get("config") != cfg_section:
        raise ConfigError(
            f"{p} was trained with config {json.dumps(meta.get('config'))}, but this run uses {json.dumps(cfg_section)}; "
            f"use another --ckpt folder or the matching --smoke setting"
        )
    sd = {}
    for name in meta["files"]:
        fp = os.path.join(directory, name)
        if not os.path.exists(fp):
            raise ConfigError(f"{p} names {name}, which is missing from {directory}")
        sd.update(torch.load(fp, map_location="cpu"))
    return {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, meta


def resume_weights(model, directory, kind, cfg_section, ds, allow_other_data, what):
    """Load the checkpoint of `kind` into `model` where there is one, refusing one trained on another dataset
    (unless allowed). Returns (training seconds, step) to continue from, and whether it resumed."""
    sd, meta = load_checkpoint(directory, kind, cfg_section)
    if sd is None:
        return 0.0, 0, False
    model.load_state_dict(sd)
    if meta.get("dataset") not in (None, ds.fingerprint()) and not allow_other_data:
        raise ConfigError(
            f"{directory} was trained on the dataset {meta['dataset']}, this is {ds.fingerprint()}; regenerate it with the same "
            f"COUNT/SEED or pass --allow-other-data"
        )
    print(f"resuming the {what} at step {meta['step']} after {meta['train_seconds'] / 60:.1f} min", flush=True)
    return meta["train_seconds"], meta["step"], True


class StepClock:
    """What both training loops share around a step: its smoothed duration, the stop rule (two more steps and
    5 s must fit the budget), and a checkpoint every `every_s` seconds."""

    def __init__(self, budget, save, every_s=120.0):
        self.budget, self.save, self.every_s = budget, save, every_s
        self.step_s = None
        self.last_save = time.time()

    def out_of_time(self):
        return self.step_s is not None and self.budget.left() < 2 * self.step_s + 5

    def stepped(self, dt):
        self.step_s = dt if self.step_s is None else 0.9 * self.step_s + 0.1 * dt
        if time.time() - self.last_save > self.every_s:
            self.save()
            self.last_save = time.time()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


# ---------------------------------------------------------------- logs


class Log:
    """One JSON object per line (tools/train/log.jsonl by default) and a short echo on stdout."""

    def __init__(self, path, stage):
        self.path = path
        self.stage = stage
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def write(self, echo=True, **rec):
        rec = dict(stage=self.stage, time=round(time.time(), 1), **rec)
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if echo:
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items() if k != "time"), flush=True)


def lr_at(progress, base, warm_frac=0.03, final=0.1):
    """Linear warm-up then cosine to `final`*base, on the fraction of the planned training time spent."""
    p = min(max(progress, 0.0), 1.0)
    if p < warm_frac:
        return base * max(p / warm_frac, 0.02)
    q = (p - warm_frac) / (1 - warm_frac)
    return base * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * q)))


def is_oom(e):
    return "out of memory" in str(e).lower()


def eprint(*a):
    print(*a, file=sys.stderr, flush=True)
