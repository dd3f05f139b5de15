"""Draw a few prompts with the exported model in PyTorch (GPU or CPU) and write one PNG contact sheet: a quick
look at what the model draws before the engine runs it. Sampling follows the engine's rules (CFG on the
logits of the conditional and the cfg_uncond rows, two-way top-p per bit, the same code replay), with
PyTorch's RNG, so images differ from the engine's for the same seed.

usage: python3 tools/train/sample.py --model DIR --out samples.png [--prompt P ...] [--cfg 3] [--seed 0]
"""
import argparse
import os
import struct
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bsq_vae import codes_from_bits  # noqa: E402
from common import autocast, pick_device, schedule_of  # noqa: E402
from infinity_model import sequence_tables  # noqa: E402
from parity import load_model  # noqa: E402

PROMPTS = [
    "a large red circle at the top left on a blue background",
    "a small yellow star at the centre on a black background",
    "a large green triangle at the bottom right on a white background",
    "a large blue square at the right on an orange background",
    "a small white ring at the bottom on a purple background",
    "a red circle above a blue square on a white background",
    "two pink diamonds at the top on a green background",
    "a large brown cross at the left on a yellow background",
]


def write_png(path, rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[i].tobytes() for i in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


@torch.no_grad()
def sample(model_dir, prompts, cfg_scale=3.0, top_p=0.97, seed=0, device=None):
    device = device or pick_device()
    cfg, t5, gpt, vae = load_model(model_dir)
    gpt.to(device)
    vae.to(device)
    t5.to_device(device)
    schedule = schedule_of(cfg)
    B = len(prompts)
    feats, mask, _ = t5.encode(prompts)
    T = feats.shape[1]
    text = torch.cat([feats, gpt.cfg_uncond[None, :T].expand(B, -1, -1) * mask[..., None]], 0)
    tmask = torch.cat([mask, mask], 0)
    g = torch.Generator(device="cpu").manual_seed(seed)
    bits = []
    d = gpt.d
    for si, (h, w) in enumerate(schedule):
        # the whole prefix again at every scale: no KV cache needed for a handful of images
        sched = schedule[: si + 1]
        rope, amask, N, P = sequence_tables(sched, gpt.C // gpt.H, device)
        _, inputs = codes_from_bits(bits + [torch.zeros((B, h * w, d), dtype=torch.uint8, device=device)], sched, d)
        with autocast(device):
            logits = gpt(text, tmask, [z.repeat(2, 1, 1) for z in inputs], sched, rope, amask, P)
        lg = logits[:, N - h * w :].float().view(2 * B, h * w, d, 2)
        guided = cfg_scale * lg[:B] + (1 - cfg_scale) * lg[B:]
        p1 = torch.softmax(guided, -1)[..., 1].cpu()
        p1 = torch.where(p1 <= 1 - top_p, torch.zeros_like(p1), torch.where(p1 >= top_p, torch.ones_like(p1), p1))
        bits.append((torch.rand(p1.shape, generator=g) < p1).to(torch.uint8).to(device))
    f_hat, _ = codes_from_bits(bits, schedule, d)
    img = vae.decoder(f_hat).float().clamp(-1, 1)
    return ((img + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prompt", action="append", default=None)
    ap.add_argument("--cfg", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--thumb", type=int, default=256, help="edge of each image on the sheet")
    a = ap.parse_args(argv)
    prompts = a.prompt or PROMPTS
    imgs = sample(a.model, prompts, a.cfg, seed=a.seed)
    n, H, W, _ = imgs.shape
    step = max(1, H // a.thumb)
    imgs = imgs[:, ::step, ::step]
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    h, w = imgs.shape[1:3]
    sheet = np.full((rows * h, cols * w, 3), 255, np.uint8)
    for i, im in enumerate(imgs):
        sheet[(i // cols) * h : (i // cols + 1) * h, (i % cols) * w : (i % cols + 1) * w] = im
    write_png(a.out, sheet)
    with open(os.path.splitext(a.out)[0] + ".txt", "w") as f:
        f.write("\n".join(f"{i // cols},{i % cols}: {p}" for i, p in enumerate(prompts)) + "\n")
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
