"""Train the BSQ-VAE on the dataset's images for a wall-clock budget; resumes from --ckpt.

usage: python3 tools/train/vae_train.py --data DIR --ckpt DIR --minutes M [--plan-minutes P] [--smoke] [--batch B]
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bsq_vae import BSQVAE  # noqa: E402
from common import (  # noqa: E402
    Budget,
    Dataset,
    Log,
    StepClock,
    autocast,
    get_config,
    is_oom,
    lr_at,
    pick_device,
    resume_weights,
    save_checkpoint,
    schedule_of,
    seed_all,
    to_float_image,
)


def vae_losses(model, x, schedule):
    xr, z, f_hat, bits = model(x, schedule)
    xr = xr.float()
    l1 = (xr - x).abs().mean()
    l2 = (xr - x).pow(2).mean()
    commit = (z - f_hat.detach()).pow(2).mean()
    loss = l1 + l2 + 0.25 * commit

    def metrics():  # read back only when logged: every float() waits for the GPU
        psnr = 10 * math.log10(4.0 / max(float((xr.detach().clamp(-1, 1) - x).pow(2).mean()), 1e-10))
        ones = torch.stack([b.float().mean() for b in bits]).mean()
        return dict(l1=float(l1), l2=float(l2), commit=float(commit), psnr=psnr, bit_ones=float(ones))

    return loss, metrics


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--minutes", type=float, required=True, help="wall-clock budget of this run (stops and saves before it)")
    ap.add_argument("--plan-minutes", type=float, default=None, help="training time the LR schedule spans over all runs (default: --minutes)")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--allow-other-data", action="store_true", help="resume on a dataset other than the checkpoint's")
    ap.add_argument("--log", default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    budget = Budget(a.minutes, reserve_s=5 if a.smoke else 25)
    cfg = get_config(a.smoke)
    device = pick_device(a.device)
    seed_all(a.seed)
    schedule = schedule_of(cfg)
    log = Log(a.log or os.path.join(os.path.dirname(os.path.abspath(__file__)), "log.jsonl"), "vae")
    ds = Dataset(a.data, cfg["image_size"])
    vcfg = dict(cfg["vae"], image_size=cfg["image_size"], resolution=cfg["resolution"])

    model = BSQVAE(cfg["vae"])
    done_s, step, resumed = resume_weights(model, a.ckpt, "vae", vcfg, ds, a.allow_other_data, "VAE")
    model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    images = ds.load_all(device) if device.type == "cuda" else None
    plan_s = (a.plan_minutes or a.minutes) * 60.0
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.0)
    batch = a.batch or (4 if a.smoke or device.type != "cuda" else 24)
    resume_warm = 30 if resumed else 0  # Adam's moments are not saved: ease back in
    g = torch.Generator(device="cpu").manual_seed(a.seed + step)
    t_run = time.time()
    first = step

    def save():
        save_checkpoint(a.ckpt, "vae", model, {"config": vcfg, "step": step, "train_seconds": done_s + time.time() - t_run, "dataset": ds.fingerprint()})

    clock = StepClock(budget, save)

    while True:
        if a.max_steps is not None and step - first >= a.max_steps:
            break
        if clock.out_of_time():
            break
        progress = (done_s + time.time() - t_run) / plan_s
        lr = lr_at(progress, a.lr) * (min(1.0, (step - first + 1) / resume_warm) if resume_warm else 1.0)
        for pg in opt.param_groups:
            pg["lr"] = lr
        idx = torch.randint(0, ds.count, (batch,), generator=g)
        t0 = time.time()
        try:
            if images is not None:
                x = to_float_image(images[idx.to(device)])
            else:
                x = to_float_image(torch.from_numpy(ds.images[idx.numpy()]).permute(0, 3, 1, 2))
            if device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device):
                loss, m = vae_losses(model, x, schedule)
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
            log.write(step=step, loss=float(loss), lr=lr, grad_norm=float(gn), batch=batch, step_s=clock.step_s, minutes=(done_s + time.time() - t_run) / 60, **m())
    save()
    print(f"VAE saved at step {step} to {a.ckpt}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
