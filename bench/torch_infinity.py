"""PyTorch reference for the engine's Infinity transformer, for the GPU machine.

Reads a case written by `scalekv export-case` (weights in safetensors under the official Infinity
names, the text features, the teacher-forced bits of every scale, and the engine's guided logits and
per-scale times), recomputes every scale's guided logits with PyTorch from the model's math (our own
implementation, following FoundationVision/Infinity's inference semantics), reports the largest
difference per scale, and times PyTorch per scale (fp32 and bf16) on the same GPU.

usage: python3 bench/torch_infinity.py CASE_DIR [--device cuda] [--repeats 3]
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F


def sdpa(q, k, v, attn_mask=None, scale=None):
    """F.scaled_dot_product_attention where PyTorch has it (2.0+, fused kernels on the GPU), else the math."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=scale)
    s = (q @ k.transpose(-1, -2)) * (scale if scale is not None else 1.0 / math.sqrt(q.shape[-1]))
    if attn_mask is not None:
        s = s + attn_mask
    return s.softmax(-1) @ v


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            assert meta["dtype"] == "F32", (name, meta["dtype"])
            s, e = meta["data_offsets"]
            f.seek(base + s)
            out[name] = torch.from_numpy(np.frombuffer(f.read(e - s), dtype="<f4").copy()).reshape(meta["shape"])
    return out


def block_prefixes(w, depth):
    if "blocks.0.sa.mat_qkv.weight" in w:
        return [f"blocks.{i}." for i in range(depth)]
    chunks = sorted({int(k.split(".")[1]) for k in w if k.startswith("block_chunks.")})
    per = depth // len(chunks)
    return [f"block_chunks.{i // per}.module.{i % per}." for i in range(depth)]


def rope_table(shape, final, hd, base=10000.0):
    half = hd // 2
    quarter = half // 2
    inv = 1.0 / (base ** (torch.arange(0, half, 2, dtype=torch.float64) / half))
    h, w = shape
    ys = torch.round(torch.arange(h, dtype=torch.float64) * (final[0] / h))  # half-to-even, like upstream
    xs = torch.round(torch.arange(w, dtype=torch.float64) * (final[1] / w))
    fy = torch.outer(ys, inv)[:, None, :].expand(h, w, quarter)
    fx = torch.outer(xs, inv)[None, :, :].expand(h, w, quarter)
    f = torch.cat([fy, fx], -1).reshape(h * w, half)
    return torch.cos(f), torch.sin(f)


def rope(x, cos, sin):
    x2 = x.reshape(*x.shape[:-1], -1, 2)
    a, b = x2[..., 0], x2[..., 1]
    return torch.stack([cos * a - sin * b, sin * a + cos * b], -1).reshape(x.shape)


class Ref:
    def __init__(self, w, cfg, dtype, device):
        self.cfg = cfg
        self.w = {k: v.to(device=device, dtype=dtype) for k, v in w.items()}
        self.dtype = dtype
        self.device = device
        self.pre = block_prefixes(w, cfg["depth"])

    def lin(self, x, name, bias=True):
        y = x @ self.w[name + ".weight"].T
        if bias and (name + ".bias") in self.w:
            y = y + self.w[name + ".bias"]
        return y

    def condition(self, text, mask):
        c, w = self.cfg, self.w
        C = c["embedDim"]
        Hp = c["textPoolHeads"]
        x = text * torch.rsqrt(text.pow(2).mean(-1, keepdim=True) + c["normEps"]) * w["text_norm.weight"]
        kv = x @ w["text_proj_for_sos.ca.mat_kv.weight"].T
        kv = kv + torch.cat([torch.zeros(C, device=x.device, dtype=x.dtype), w["text_proj_for_sos.ca.v_bias"]])
        B, T, _ = kv.shape
        kv = kv.view(B, T, 2, Hp, C // Hp)
        k, v = kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(1, 2)
        q = w["text_proj_for_sos.ca.mat_q"].view(1, Hp, 1, C // Hp).expand(B, -1, -1, -1)
        bias = (1 - mask)[:, None, None, :] * -1e9
        o = sdpa(q, k, v, attn_mask=bias.to(q.dtype))
        cond = self.lin(o.transpose(1, 2).reshape(B, C), "text_proj_for_sos.ca.proj")
        ca = self.lin(F.gelu(self.lin(x, "text_proj_for_ca.0"), approximate="tanh"), "text_proj_for_ca.2")
        gss = self.lin(F.silu(cond), "shared_ada_lin.1").view(B, 6, C)
        head_ss = self.lin(F.silu(cond), "head_nm.ada_lin.1").view(B, 2, C)
        x0 = cond[:, None, :] + w["pos_start"] + w["lvl_embed.weight"][0]
        return dict(ca=ca, bias=bias, gss=gss, head_ss=head_ss, x0=x0)

    def block(self, i, x, cond, cos, sin, cache):
        c, w, p = self.cfg, self.w, self.pre[i]
        C, H = c["embedDim"], c["numHeads"]
        d = C // H
        B, L, _ = x.shape
        g = (w[p + "ada_gss"].view(1, 6, C) + cond["gss"]).unbind(1)
        gamma1, gamma2, scale1, scale2, shift1, shift2 = [t[:, None, :] for t in g]
        xs = F.layer_norm(x, (C,), eps=c["normEps"]) * (1 + scale1) + shift1
        qkv = xs @ w[p + "sa.mat_qkv.weight"].T + torch.cat([w[p + "sa.q_bias"], torch.zeros_like(w[p + "sa.q_bias"]), w[p + "sa.v_bias"]])
        q, k, v = qkv.view(B, L, 3, H, d).permute(2, 0, 3, 1, 4).unbind(0)
        sm = w[p + "sa.scale_mul_1H11"].clamp_max(math.log(100)).exp()
        q = F.normalize(q, dim=-1) * sm
        k = F.normalize(k, dim=-1)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        if cache[i] is not None:
            k = torch.cat([cache[i][0], k], 2)
            v = torch.cat([cache[i][1], v], 2)
        cache[i] = (k, v)
        o = sdpa(q, k, v, scale=1.0)
        x = x + self.lin(o.transpose(1, 2).reshape(B, L, C), p + "sa.proj") * gamma1
        hn = F.layer_norm(x, (C,), w[p + "ca_norm.weight"], w[p + "ca_norm.bias"], eps=c["normEps"])
        cq = self.lin(hn, p + "ca.mat_q").view(B, L, H, d).transpose(1, 2)
        ckv = cond["ca"] @ w[p + "ca.mat_kv.weight"].T + torch.cat([torch.zeros_like(w[p + "ca.v_bias"]), w[p + "ca.v_bias"]])
        T = ckv.shape[1]
        ckv = ckv.view(B, T, 2, H, d)
        ck, cv = ckv[:, :, 0].transpose(1, 2), ckv[:, :, 1].transpose(1, 2)
        co = sdpa(cq, ck, cv, attn_mask=cond["bias"].to(cq.dtype))
        x = x + self.lin(co.transpose(1, 2).reshape(B, L, C), p + "ca.proj")
        xf = F.layer_norm(x, (C,), eps=c["normEps"]) * (1 + scale2) + shift2
        x = x + self.lin(F.gelu(self.lin(xf, p + "ffn.fc1"), approximate="tanh"), p + "ffn.fc2") * gamma2
        return x

    def head(self, x, cond):
        C = self.cfg["embedDim"]
        s, b = cond["head_ss"][:, 0:1], cond["head_ss"][:, 1:2]
        return self.lin(F.layer_norm(x, (C,), eps=self.cfg["normEps"]) * (1 + s) + b, "head")


def run_case(case_dir, device, dtype, repeats):
    case = json.load(open(os.path.join(case_dir, "case.json")))
    cfg = case["config"]
    w = load_safetensors(os.path.join(case_dir, "weights.safetensors"))
    ref = Ref(w, cfg, dtype, device)
    rows, T, Ct5 = case["rows"], case["textLen"], cfg["textChannels"]
    text = torch.from_numpy(np.fromfile(os.path.join(case_dir, "text.f32"), dtype="<f4").reshape(rows, T, Ct5)).to(device, dtype)
    mask = torch.from_numpy(np.fromfile(os.path.join(case_dir, "mask.f32"), dtype="<f4").reshape(rows, T)).to(device, dtype)
    codes = [None] + [torch.from_numpy(np.fromfile(os.path.join(case_dir, f"codes{si}.f32"), dtype="<f4")) for si in range(1, len(case["schedule"]))]
    C, H = cfg["embedDim"], cfg["numHeads"]
    d = C // H
    final = case["finalGrid"]
    times = []
    outs = []
    for rep in range(repeats):
        torch.cuda.synchronize() if device == "cuda" else None
        cond = ref.condition(text, mask)
        cache = [None] * cfg["depth"]
        times_rep = []
        outs = []
        for si, (h, wd) in enumerate(case["schedule"]):
            L = h * wd
            t0 = time.perf_counter()
            # bits are teacher-forced, so each scale's BSQ codes (resampled sum of earlier scales) are
            # replayed from the engine's case; scale 0 starts from the conditioning's sos token
            if si == 0:
                x = cond["x0"]
            else:
                z = codes[si].view(rows, L, cfg["codebookDim"]).to(device, dtype)
                x = ref.lin(z, "word_embed") + ref.w["lvl_embed.weight"][si]
            cos, sin = [t.to(device, dtype) for t in rope_table((h, wd), final, d)]
            for i in range(cfg["depth"]):
                x = ref.block(i, x, cond, cos, sin, cache)
            logits = ref.head(x, cond).float()
            if device == "cuda":
                torch.cuda.synchronize()
            times_rep.append((time.perf_counter() - t0) * 1000)
            outs.append(logits)
        times.append(times_rep)
    best = [min(t[si] for t in times) for si in range(len(case["schedule"]))]
    return outs, best, case


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    report = {"device": torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu", "torch": torch.__version__}
    with torch.no_grad():
        outs32, t32, case = run_case(a.case, a.device, torch.float32, a.repeats)
        ours = np.fromfile(os.path.join(a.case, "logits.f32"), dtype="<f4")
        o = 0
        diffs = []
        for si, lg in enumerate(outs32):
            n = lg.numel()
            mine = torch.from_numpy(ours[o : o + n].copy()).view_as(lg.cpu())
            o += n
            ref = lg.cpu()
            diffs.append({"scale": si, "maxAbs": float((mine - ref).abs().max()), "refMaxAbs": float(ref.abs().max())})
        outs16, t16, _ = run_case(a.case, a.device, torch.bfloat16, a.repeats) if a.device == "cuda" else (None, None, None)
        # how far PyTorch's own bf16 run (the official inference dtype) is from fp32: the yardstick for
        # the engine's float16 path
        if outs16 is not None:
            for d, l32, l16 in zip(diffs, outs32, outs16):
                d["torchBf16MaxAbs"] = float((l16.float().cpu() - l32.cpu()).abs().max())
    report.update({"parity": diffs, "torchFp32Ms": t32, "torchBf16Ms": t16, "engineMs": case.get("engineMs"), "engineProvider": case.get("provider")})
    print(json.dumps(report, indent=1))
    with open(os.path.join(a.case, "torch_report.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
