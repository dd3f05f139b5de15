"""Train the Infinity transformer with teacher forcing for a wall-clock budget; resumes from --ckpt.

The dataset's images are tokenised once with the trained VAE (bits of every scale, cached in --tokens and
rebuilt when the VAE or the dataset changes); captions go through the frozen T5 once.

usage: python3 tools/train/gpt_train.py --data DIR --ckpt DIR --text-encoder DIR --tokens FILE --minutes M
       [--plan-minutes P] [--smoke] [--batch B]
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bsq_vae import BSQVAE, codes_from_bits, quantize_multiscale, quantize_self_correcting  # noqa: E402
from common import (  # noqa: E402
    Budget,
    ConfigError,
    Dataset,
    Log,
    StepClock,
    autocast,
    get_config,
    is_oom,
    load_checkpoint,
    lr_at,
    pick_device,
    resume_weights,
    save_checkpoint,
    schedule_of,
    seed_all,
    to_float_image,
)
from infinity_model import Infinity, sequence_tables  # noqa: E402
from t5 import CaptionBank, T5Encoder  # noqa: E402


def vae_config(cfg):
    return dict(cfg["vae"], image_size=cfg["image_size"], resolution=cfg["resolution"])


def gpt_config(cfg, t5):
    return dict(cfg["gpt"], codebook_dim=cfg["vae"]["codebook_dim"], resolution=cfg["resolution"], image_size=cfg["image_size"], text_channels=t5.d_model)


@torch.no_grad()
def build_tokens(cfg, ds, vae_ckpt, path, device, batch=32, latents=False):
    """Bits of every scale for every image, [N, tokens, d] uint8, which tokens hold an edge of the image
    ([N, tokens] bool, edge_tokens), and with `latents` the encoder's output z [N, d, h, w] fp16 (bitwise
    self-correction re-quantises it); cached in `path` with what made them."""
    sd, meta = load_checkpoint(vae_ckpt, "vae", vae_config(cfg))
    if sd is None:
        raise ConfigError(f"no VAE checkpoint in {vae_ckpt}: train it first (gpu_run.sh vae)")
    key = {"dataset": ds.fingerprint(), "vae_step": meta["step"], "vae_seconds": meta["train_seconds"]}
    if os.path.exists(path):
        z = np.load(path, allow_pickle=False)
        if json.loads(str(z["key"])) == key and (not latents or "z" in z.files) and "edges" in z.files:
            bits = np.unpackbits(z["bits"], axis=-1, count=cfg["vae"]["codebook_dim"])
            edges = np.unpackbits(z["edges"], axis=-1, count=bits.shape[1]).astype(bool)
            lat = torch.from_numpy(z["z"]).to(device) if latents else None
            return torch.from_numpy(bits).to(device), lat, torch.from_numpy(edges).to(device)
        print(f"{path} was made from another VAE or dataset (or lacks latents or edge flags): re-tokenising", flush=True)
    vae = BSQVAE(cfg["vae"])
    vae.load_state_dict(sd)
    vae.to(device).eval()
    schedule = schedule_of(cfg)
    t0 = time.time()
    out, zs, es = [], [], []
    for i in range(0, ds.count, batch):
        x = to_float_image(torch.from_numpy(np.ascontiguousarray(ds.images[i : i + batch])).permute(0, 3, 1, 2).to(device))
        es.append(edge_tokens(x, schedule).cpu())
        with autocast(device):
            z = vae.encoder(x)
        _, bits = quantize_multiscale(z, schedule)
        out.append(torch.cat(bits, 1).cpu())
        if latents:
            zs.append(z.half().cpu())
    bits = torch.cat(out, 0).numpy()
    edges = torch.cat(es, 0).numpy()
    zall = torch.cat(zs, 0).numpy() if latents else None
    extra = {"z": zall} if latents else {}
    np.savez(path + ".tmp.npz", bits=np.packbits(bits, axis=-1), edges=np.packbits(edges, axis=-1), key=json.dumps(key), **extra)
    os.replace(path + ".tmp.npz", path)
    print(f"tokenised {ds.count} images in {time.time() - t0:.1f}s -> {path}", flush=True)
    return torch.from_numpy(bits).to(device), (torch.from_numpy(zall).to(device) if latents else None), torch.from_numpy(edges).to(device)


def edge_tokens(x, schedule, threshold=0.2):
    """The tokens of every scale whose area holds a sharp edge of the image (an object's outline, a horizon), as
    [B, tokens] bool. x: [B, 3, S, S] in [-1, 1]; a pixel is on an edge where it differs from its left or upper
    neighbour by more than `threshold` in some channel, which a drawn gradient never does."""
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().amax(1) > threshold  # [B, S, S-1]
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().amax(1) > threshold  # [B, S-1, S]
    e = torch.zeros(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device)
    e[:, 0, :, 1:] += dx.float()
    e[:, 0, 1:, :] += dy.float()
    return torch.cat([F.adaptive_max_pool2d(e, (h, w)).flatten(1) for h, w in schedule], 1) > 0


def edge_weights(edges, schedule, alpha):
    """Per-token loss factors that make an edge token count 1 + alpha times a flat one, rescaled so that every
    scale of every image keeps a mean factor of 1: the loss's balance between scales stays scale_weights'.
    Shapes differ only along their outlines, and flat background tokens, the easy majority, otherwise dominate."""
    w = 1.0 + alpha * edges.float()
    sizes = [h * w_ for h, w_ in schedule]
    return torch.cat([seg / seg.mean(1, keepdim=True) for seg in w.split(sizes, 1)], 1)


def parse_shape_weights(text):
    """'star=2,diamond=2' -> {'star': 2.0, 'diamond': 2.0}; an empty text is no weighting."""
    out = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, sep, value = part.partition("=")
        try:
            w = float(value)
        except ValueError:
            w = -1.0
        if not sep or not name.strip() or not (w > 0 and math.isfinite(w)):
            raise ConfigError(f"--shape-weight wants shape=weight pairs with positive, finite weights, e.g. star=2,diamond=2; got '{part}'")
        out[name.strip()] = w
    return out


def draw_weights(kinds, shapes, single_weight, shape_weights):
    """How often each image is drawn: single-object images `single_weight`x, and an image holding a listed shape
    that shape's weight (the largest of its shapes) times that. None when every image is equally likely."""
    if single_weight == 1.0 and not shape_weights:
        return None
    w = [(single_weight if k == "single" else 1.0) * max([shape_weights.get(s, 1.0) for s in ss] or [1.0]) for k, ss in zip(kinds, shapes)]
    return torch.tensor(w, dtype=torch.float)


def scale_weights(schedule, device):
    """Per-token loss weights: half the loss is the token mean, half the mean over scales (coarse scales lay out the image)."""
    n = torch.tensor([h * w for h, w in schedule], dtype=torch.float32)
    per_scale = 0.5 / n.sum() + 0.5 / (len(schedule) * n)
    return torch.cat([per_scale[i].repeat(int(n[i])) for i in range(len(schedule))]).to(device)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--ckpt", required=True, help="folder with vae.json (input) and gpt.json (resumed, written)")
    ap.add_argument("--text-encoder", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--plan-minutes", type=float, default=None)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--cfg-dropout", type=float, default=0.1)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--allow-other-data", action="store_true", help="resume on a dataset other than the checkpoint's")
    ap.add_argument("--restart", action="store_true",
                    help="warm restart: the LR schedule (warm-up, cosine to 0.1 x --lr) spans this run's --minutes, not the recorded time")
    ap.add_argument("--bsc", type=float, default=0.0,
                    help="bitwise self-correction: flip each scale's bits with a probability drawn per image from U[0, BSC]")
    ap.add_argument("--single-weight", type=float, default=1.0,
                    help="how much more often single-object images are drawn than counts and relations (the held-out prompts are single)")
    ap.add_argument("--shape-weight", default="",
                    help="draw images holding these shapes more often, e.g. star=2,diamond=2 (the shapes the model draws worst)")
    ap.add_argument("--edge-weight", type=float, default=0.0,
                    help="edge tokens (edge_tokens: an outline or horizon crosses them) weigh 1 + this in each scale's loss; 0 turns it off")
    ap.add_argument("--log", default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    budget = Budget(a.minutes, reserve_s=5 if a.smoke else 25)
    cfg = get_config(a.smoke)
    device = pick_device(a.device)
    seed_all(a.seed)
    schedule = schedule_of(cfg)
    log = Log(a.log or os.path.join(os.path.dirname(os.path.abspath(__file__)), "log.jsonl"), "gpt")
    ds = Dataset(a.data, cfg["image_size"])
    t5 = T5Encoder(a.text_encoder).to_device(device)
    unknown = sorted({w for c in set(ds.captions) for w in t5.tokenizer.unknown_words(c)})
    if unknown:
        raise ConfigError(f"the text encoder in {a.text_encoder} has no whole-word token for: {', '.join(unknown[:20])}; rebuild it from this dataset (gpu_run.sh prep)")
    gcfg = gpt_config(cfg, t5)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    bits_all, z_all, edges_all = build_tokens(cfg, ds, a.ckpt, a.tokens, device, latents=a.bsc > 0)
    if a.edge_weight:
        print(f"edge tokens weigh {1 + a.edge_weight:g}x: {float(edges_all.float().mean()):.3f} of all tokens are edge tokens", flush=True)
    bank = CaptionBank(t5, ds.captions, device)
    if bank.T > gcfg["text_max_len"]:
        raise ConfigError(f"captions reach {bank.T} tokens; the config's text_max_len is {gcfg['text_max_len']}")
    print(f"{ds.count} images, {bank.unique} distinct captions (<= {bank.T} tokens), {bits_all.shape[1]} tokens x {bits_all.shape[2]} bits each", flush=True)

    model = Infinity(cfg, t5.d_model)
    done_s, step, resumed = resume_weights(model, a.ckpt, "gpt", gcfg, ds, a.allow_other_data, "transformer")
    model.to(device)
    nparams = sum(p.numel() for p in model.parameters())
    rope, mask, N, P = sequence_tables(schedule, model.C // model.H, device)
    weights = scale_weights(schedule, device)
    bounds = np.cumsum([0] + [h * w for h, w in schedule])
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n and "cfg_uncond" not in n and "pos_start" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n and "cfg_uncond" not in n and "pos_start" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.97))
    plan_s = (a.plan_minutes or a.minutes) * 60.0
    batch = a.batch or (4 if a.smoke or device.type != "cuda" else 48)
    resume_warm = 50 if resumed and not a.restart else 0
    # a restart's schedule: warm-up over 5% of this run (no optimizer state is saved), cosine to the end of it
    shape_w = parse_shape_weights(a.shape_weight)
    unknown_shapes = sorted(set(shape_w) - set().union(*ds.shapes))
    if unknown_shapes:
        raise ConfigError(f"--shape-weight names shapes this dataset never draws: {', '.join(unknown_shapes)}")
    pick = draw_weights(ds.kinds, ds.shapes, a.single_weight, shape_w)
    if pick is not None:
        w, total = pick.tolist(), float(pick.sum())
        single = sum(x for x, k in zip(w, ds.kinds) if k == "single") / total
        listed = sum(x for x, ss in zip(w, ds.shapes) if ss & shape_w.keys()) / total
        print(f"draw weights: single-object x{a.single_weight:g} ({single:.2f} of draws), shapes {shape_w or 'none'} ({listed:.2f} of draws)", flush=True)
    g = torch.Generator(device="cpu").manual_seed(a.seed + step)
    t_run = time.time()
    run_plan_s = max(budget.left(), 1.0)  # what is left after tokenising: a restart's cosine ends with the budget
    first = step
    d = cfg["vae"]["codebook_dim"]
    print(f"transformer: {nparams / 1e6:.2f}M parameters, {N} tokens per image (padded to {P}), batch {batch}", flush=True)

    def save():
        save_checkpoint(a.ckpt, "gpt", model, {"config": gcfg, "step": step, "train_seconds": done_s + time.time() - t_run, "dataset": ds.fingerprint(), "parameters": nparams})

    clock = StepClock(budget, save)

    while True:
        if a.max_steps is not None and step - first >= a.max_steps:
            break
        if clock.out_of_time():
            break
        if a.restart:
            lr = lr_at((time.time() - t_run) / run_plan_s, a.lr, warm_frac=0.05)
        else:
            lr = lr_at((done_s + time.time() - t_run) / plan_s, a.lr)
        lr = lr * (min(1.0, (step - first + 1) / resume_warm) if resume_warm else 1.0)
        for pg in opt.param_groups:
            pg["lr"] = lr
        if pick is None:
            idx = torch.randint(0, ds.count, (batch,), generator=g).to(device)
        else:
            idx = torch.multinomial(pick, batch, replacement=True, generator=g).to(device)
        t0 = time.time()
        try:
            if z_all is None:
                bits = bits_all[idx]  # [B, N, d]
                per_scale = [bits[:, bounds[i] : bounds[i + 1]] for i in range(len(schedule))]
                _, inputs = codes_from_bits(per_scale, schedule, d)
            else:
                flip = torch.rand(batch, device=device) * a.bsc
                targets, inputs = quantize_self_correcting(z_all[idx], schedule, flip)
                bits = torch.cat(targets, 1)
            text, tmask, lens = bank.batch(idx)
            drop = torch.rand(batch, device=device) < a.cfg_dropout
            T = text.shape[1]
            text = torch.where(drop[:, None, None], model.cfg_uncond[None, :T].expand(batch, -1, -1), text) * tmask[..., None]
            with autocast(device):
                logits = model(text, tmask, inputs, schedule, rope, mask, P)
            lg = logits.float().view(batch, N, d, 2)
            ce = F.cross_entropy(lg.reshape(-1, 2), bits.reshape(-1).long(), reduction="none").view(batch, N, d).mean(-1)
            tok_w = weights if not a.edge_weight else weights * edge_weights(edges_all[idx], schedule, a.edge_weight)
            loss = (ce * tok_w).sum(-1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        except RuntimeError as e:
            if is_oom(e) and batch > 1:
                batch //= 2
                opt.zero_grad(set_to_none=True)
                torch.cuda.empty_cache()
                print(f"out of memory: batch -> {batch}", flush=True)
                continue
            raise
        if device.type == "cuda":
            torch.cuda.synchronize()
        step += 1
        clock.stepped(time.time() - t0)
        if step % (1 if a.smoke else 50) == 0 or step == first + 1:
            with torch.no_grad():
                acc = (lg.argmax(-1) == bits.long()).float().mean((0, 2))
                acc_s = [round(float(acc[bounds[i] : bounds[i + 1]].mean()), 3) for i in range(len(schedule))]
            log.write(step=step, loss=float(loss), lr=lr, bsc=a.bsc, edge_weight=a.edge_weight, shape_weight=a.shape_weight or None, grad_norm=float(gn), batch=batch, step_s=clock.step_s, minutes=(done_s + time.time() - t_run) / 60, bit_acc=acc_s)
    save()
    print(f"transformer saved at step {step} to {a.ckpt}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
