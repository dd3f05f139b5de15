"""The Infinity transformer as the engine runs it (kernels/graphs/infinity.ts), with the official state_dict
names, trained with teacher forcing: every scale of the schedule in one sequence under a block-wise causal
mask (a scale sees itself and every earlier scale), which is exactly what the engine's per-scale KV cache
computes at inference.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import FINAL_GRID, mlp_hidden, sdpa


def rope_table(shape, final, hd, base=10000.0):
    """src/engine/rope.ts: positions on the 1M schedule's final grid, half the pairs for rows, half for columns."""
    half = hd // 2
    quarter = half // 2
    inv = 1.0 / (base ** (torch.arange(0, half, 2, dtype=torch.float64) / half))
    h, w = shape
    ys = torch.round(torch.arange(h, dtype=torch.float64) * (final[0] / h))  # half to even, as the engine
    xs = torch.round(torch.arange(w, dtype=torch.float64) * (final[1] / w))
    fy = torch.outer(ys, inv)[:, None, :].expand(h, w, quarter)
    fx = torch.outer(xs, inv)[None, :, :].expand(h, w, quarter)
    f = torch.cat([fy, fx], -1).reshape(h * w, half)
    return torch.cos(f).float(), torch.sin(f).float()


def apply_rope(x, cos, sin):
    x2 = x.float().reshape(*x.shape[:-1], -1, 2)
    a, b = x2[..., 0], x2[..., 1]
    return torch.stack([cos * a - sin * b, sin * a + cos * b], -1).reshape(x.shape)


class RMSNorm(nn.Module):
    def __init__(self, n, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        x = x.float()
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class SelfAttention(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.mat_qkv = nn.Linear(C, 3 * C, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(C))
        self.v_bias = nn.Parameter(torch.zeros(C))
        self.register_buffer("zero_k_bias", torch.zeros(C))
        self.scale_mul_1H11 = nn.Parameter(torch.full((1, H, 1, 1), math.log(4.0)))
        self.proj = nn.Linear(C, C)

    def forward(self, x, cos, sin, mask):
        B, L, C = x.shape
        H = self.H
        d = C // H
        qkv = F.linear(x, self.mat_qkv.weight, torch.cat([self.q_bias, self.zero_k_bias, self.v_bias]))
        q, k, v = qkv.view(B, L, 3, H, d).permute(2, 0, 3, 1, 4).unbind(0)
        sm = self.scale_mul_1H11.clamp(max=math.log(100.0)).exp()
        q = F.normalize(q.float(), dim=-1) * sm
        k = F.normalize(k.float(), dim=-1)
        q, k = apply_rope(q, cos, sin).to(v.dtype), apply_rope(k, cos, sin).to(v.dtype)
        o = sdpa(q, k, v, mask=None if mask is None else mask.to(q.dtype), scale=1.0)
        return self.proj(o.transpose(1, 2).reshape(B, L, C))


class CrossAttention(nn.Module):
    def __init__(self, C, D, H):
        super().__init__()
        self.H = H
        self.mat_q = nn.Linear(C, C)
        self.mat_kv = nn.Linear(D, 2 * C, bias=False)
        self.v_bias = nn.Parameter(torch.zeros(C))
        self.register_buffer("zero_k_bias", torch.zeros(C))
        self.proj = nn.Linear(C, C)

    def forward(self, x, ca_kv, ca_bias):
        B, L, C = x.shape
        H = self.H
        d = C // H
        q = self.mat_q(x).view(B, L, H, d).transpose(1, 2)
        kv = F.linear(ca_kv, self.mat_kv.weight, torch.cat([self.zero_k_bias, self.v_bias]))
        T = kv.shape[1]
        kv = kv.view(B, T, 2, H, d)
        k, v = kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(1, 2)
        o = sdpa(q, k, v, mask=ca_bias.to(q.dtype))
        return self.proj(o.transpose(1, 2).reshape(B, L, C))


class FFN(nn.Module):
    def __init__(self, C, hidden):
        super().__init__()
        self.fc1 = nn.Linear(C, hidden)
        self.fc2 = nn.Linear(hidden, C)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, C, H, hidden, eps):
        super().__init__()
        self.C = C
        self.eps = eps
        self.ada_gss = nn.Parameter(torch.randn(1, 1, 6, C) / C**0.5)
        self.sa = SelfAttention(C, H)
        self.ca_norm = nn.LayerNorm(C, eps=eps)
        self.ca = CrossAttention(C, C, H)
        self.ffn = FFN(C, hidden)

    def forward(self, x, gss, cos, sin, mask, ca_kv, ca_bias):
        C = self.C
        gamma1, gamma2, scale1, scale2, shift1, shift2 = (self.ada_gss.view(1, 6, C) + gss).unbind(1)
        ln = lambda v: F.layer_norm(v.float(), (C,), eps=self.eps)
        xs = ln(x) * (1 + scale1[:, None]) + shift1[:, None]
        x = x + self.sa(xs, cos, sin, mask) * gamma1[:, None]
        x = x + self.ca(self.ca_norm(x.float()), ca_kv, ca_bias)
        xf = ln(x) * (1 + scale2[:, None]) + shift2[:, None]
        return x + self.ffn(xf) * gamma2[:, None]


class TextPool(nn.Module):
    def __init__(self, Ct5, D, Hp):
        super().__init__()
        self.Hp = Hp
        self.mat_q = nn.Parameter(torch.randn(1, Hp, D // Hp) * 0.02)
        self.mat_kv = nn.Linear(Ct5, 2 * D, bias=False)
        self.v_bias = nn.Parameter(torch.zeros(D))
        self.register_buffer("zero_k_bias", torch.zeros(D))
        self.proj = nn.Linear(D, D)


class TextProjForSos(nn.Module):
    def __init__(self, Ct5, D, Hp):
        super().__init__()
        self.ca = TextPool(Ct5, D, Hp)

    def forward(self, tn, bias):
        p = self.ca
        B, T, _ = tn.shape
        D = p.proj.weight.shape[0]
        Hp = p.Hp
        kv = F.linear(tn, p.mat_kv.weight, torch.cat([p.zero_k_bias, p.v_bias])).view(B, T, 2, Hp, D // Hp)
        k, v = kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(1, 2)
        q = p.mat_q.view(1, Hp, 1, D // Hp).expand(B, -1, -1, -1).to(k.dtype)
        o = sdpa(q, k, v, mask=bias.to(k.dtype))
        return p.proj(o.transpose(1, 2).reshape(B, D))


class HeadNorm(nn.Module):
    def __init__(self, C, D):
        super().__init__()
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * C))


class Infinity(nn.Module):
    def __init__(self, cfg, text_channels):
        super().__init__()
        g = cfg["gpt"]
        C, H, depth = g["embed_dim"], g["num_heads"], g["depth"]
        d = cfg["vae"]["codebook_dim"]
        D = C
        Ct5 = text_channels
        self.C, self.H, self.depth, self.d = C, H, depth, d
        self.eps = 1e-6
        self.hidden = mlp_hidden(cfg)
        self.cfg_uncond = nn.Parameter(torch.randn(g["text_max_len"], Ct5) / Ct5**0.5)
        self.pos_start = nn.Parameter(torch.randn(1, 1, C) * (1 / (3 * C)) ** 0.5)
        self.lvl_embed = nn.Embedding(g["levels"], C)
        self.word_embed = nn.Linear(d, C)
        self.text_norm = RMSNorm(Ct5, self.eps)
        self.text_proj_for_sos = TextProjForSos(Ct5, D, g["text_pool_heads"])
        self.text_proj_for_ca = nn.Sequential(nn.Linear(Ct5, D), nn.GELU(approximate="tanh"), nn.Linear(D, D))
        self.shared_ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(D, 6 * C))
        self.blocks = nn.ModuleList([Block(C, H, self.hidden, self.eps) for _ in range(depth)])
        self.head_nm = HeadNorm(C, D)
        self.head = nn.Linear(C, 2 * d)
        self._init()

    def _init(self):
        std = 0.02
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.trunc_normal_(m.weight, std=std)
        # codes are +-1/sqrt(d): scale the input projection so tokens start O(1)
        nn.init.trunc_normal_(self.word_embed.weight, std=1.0 / self.C**0.5 * self.d**0.5)
        for b in self.blocks:
            b.sa.proj.weight.data.mul_(1 / math.sqrt(2 * self.depth))
            b.ffn.fc2.weight.data.mul_(1 / math.sqrt(2 * self.depth))
        nn.init.zeros_(self.shared_ada_lin[1].weight)
        nn.init.zeros_(self.head_nm.ada_lin[1].weight)
        nn.init.zeros_(self.head.weight)

    def condition(self, text, text_mask):
        """text [B, T, Ct5] (zero padded), text_mask [B, T] -> everything the blocks and head need"""
        C = self.C
        tn = self.text_norm(text)
        bias = ((1 - text_mask) * -1e9)[:, None, None, :]
        cond = self.text_proj_for_sos(tn, bias)
        ca_kv = self.text_proj_for_ca(tn)
        gss = self.shared_ada_lin(cond).view(-1, 6, C)
        head_ss = self.head_nm.ada_lin(cond).view(-1, 2, C)
        x0 = cond[:, None, :] + self.pos_start + self.lvl_embed.weight[0]
        return dict(cond=cond, ca_kv=ca_kv, ca_bias=bias, gss=gss, head_ss=head_ss, x0=x0)

    def head_logits(self, x, head_ss):
        x = F.layer_norm(x.float(), (self.C,), eps=self.eps) * (1 + head_ss[:, 0:1]) + head_ss[:, 1:2]
        return self.head(x)

    def forward(self, text, text_mask, inputs, schedule, rope, mask, pad_to):
        """Teacher forcing. inputs: list (scales 1..) of [B, h*w, d] codes; returns logits [B, N, 2d] over all scales."""
        c = self.condition(text, text_mask)
        xs = [c["x0"]]
        for si, z in enumerate(inputs, start=1):
            xs.append(self.word_embed(z.to(self.word_embed.weight.dtype)) + self.lvl_embed.weight[si])
        x = torch.cat(xs, 1)
        N = x.shape[1]
        if pad_to > N:
            x = F.pad(x, (0, 0, 0, pad_to - N))
        cos, sin = rope
        for b in self.blocks:
            x = b(x, c["gss"], cos, sin, mask, c["ca_kv"], c["ca_bias"])
        return self.head_logits(x[:, :N], c["head_ss"])


def sequence_tables(schedule, hd, device, multiple=16):
    """RoPE tables of the whole sequence and the block-causal additive mask, padded to a multiple of 16."""
    cs = [rope_table(s, FINAL_GRID, hd) for s in schedule]
    cos = torch.cat([c for c, _ in cs], 0)
    sin = torch.cat([s for _, s in cs], 0)
    N = cos.shape[0]
    P = ((N + multiple - 1) // multiple) * multiple
    cos = F.pad(cos, (0, 0, 0, P - N), value=1.0)
    sin = F.pad(sin, (0, 0, 0, P - N))
    scale_id = torch.cat([torch.full((h * w,), i) for i, (h, w) in enumerate(schedule)] + [torch.full((P - N,), len(schedule))])
    allowed = scale_id[None, :] <= scale_id[:, None]  # query row sees keys of its own and earlier scales
    mask = torch.zeros((P, P))
    mask.masked_fill_(~allowed, float("-inf"))
    return (cos.to(device), sin.to(device)), mask[None, None].to(device), N, P
