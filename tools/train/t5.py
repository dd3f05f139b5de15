"""The frozen text encoder in PyTorch: the tokenizer.json Unigram tokenizer and flan-t5's encoder, written
to compute exactly what the engine computes (src/model/tokenizer/unigram.ts, kernels/graphs/t5Encoder.ts);
parity.py checks both against `node dist/cli.js encode-text`.
"""
import json
import math
import os
import re
import struct
import unicodedata

import numpy as np
import torch
import torch.nn.functional as F

SPACE = "\u2581"


def read_safetensors(path):
    dt = {"F32": np.float32, "F16": np.float16}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            s, e = meta["data_offsets"]
            f.seek(base + s)
            raw = f.read(e - s)
            if meta["dtype"] == "BF16":
                a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                a = np.frombuffer(raw, dtype=dt[meta["dtype"]]).astype(np.float32)
            out[name] = torch.from_numpy(a.copy()).reshape(meta["shape"])
    return out


class Tokenizer:
    """Viterbi segmentation over the Unigram vocabulary, Metaspace words, NFKC, </s> appended."""

    def __init__(self, path):
        with open(path, encoding="utf8") as f:
            j = json.load(f)
        m = j["model"]
        assert m["type"] == "Unigram", f"{path}: only Unigram tokenizers are supported"
        self.pieces = {}
        min_score = 0.0
        self.max_len = 1
        for i, (p, s) in enumerate(m["vocab"]):
            self.pieces.setdefault(p, (i, s))
            self.max_len = max(self.max_len, len(p))
            min_score = min(min_score, s)
        self.unk_id = m.get("unk_id", 2) if m.get("unk_id") is not None else 2
        self.unk_score = min_score - 10
        eos = (j.get("post_processor") or {}).get("special_tokens", {}).get("</s>", {}).get("ids", [None])[0]
        self.eos_id = eos if eos is not None else self.pieces.get("</s>", (None,))[0]
        self.pad_id = next((t["id"] for t in j.get("added_tokens", []) if t["content"] == "<pad>"), 0)
        self.space = (j.get("pre_tokenizer") or {}).get("replacement", SPACE)

    def segment(self, word):
        n = len(word)
        best = [-math.inf] * (n + 1)
        frm = [-1] * (n + 1)
        piece = [-1] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] == -math.inf:
                continue
            s = ""
            for j in range(i, min(n, i + self.max_len)):
                s += word[j]
                p = self.pieces.get(s)
                if p is not None:
                    sc = best[i] + p[1]
                    if sc > best[j + 1]:
                        best[j + 1], frm[j + 1], piece[j + 1] = sc, i, p[0]
            if word[i] not in self.pieces:
                sc = best[i] + self.unk_score
                if sc > best[i + 1]:
                    best[i + 1], frm[i + 1], piece[i + 1] = sc, i, self.unk_id
        ids = []
        k = n
        while k > 0:
            ids.append(piece[k])
            k = frm[k]
        ids.reverse()
        return [t for i, t in enumerate(ids) if not (t == self.unk_id and i > 0 and ids[i - 1] == self.unk_id)]

    def encode(self, text, max_length=512):
        words = [w for w in re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().split(" ") if w]
        ids = []
        for w in words:
            ids += self.segment(self.space + w)
        room = max_length if self.eos_id is None else max_length - 1
        ids = ids[:room]
        if self.eos_id is not None:
            ids.append(self.eos_id)
        return ids

    def unknown_words(self, text):
        """words that do not tokenize to a single whole piece"""
        words = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().split(" ")
        return [w for w in words if w and (self.space + w) not in self.pieces]


def relative_buckets(T, num_buckets, max_distance):
    """T5's bidirectional buckets, in float32 as HuggingFace computes them."""
    ctx = torch.arange(T)[:, None]
    mem = torch.arange(T)[None, :]
    rel = mem - ctx
    half = num_buckets // 2
    ret = (rel > 0).long() * half
    n = rel.abs()
    max_exact = half // 2
    is_small = n < max_exact
    large = max_exact + (
        torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (half - max_exact)
    ).to(torch.long)
    large = torch.min(large, torch.full_like(large, half - 1))
    return ret + torch.where(is_small, n, large)


class T5Encoder(torch.nn.Module):
    """flan-t5 encoder (gated-GELU or ReLU FFN), weights from a HuggingFace folder; always frozen."""

    def __init__(self, folder):
        super().__init__()
        with open(os.path.join(folder, "config.json")) as f:
            c = json.load(f)
        self.c = c
        self.d_model = c["d_model"]
        self.heads = c["num_heads"]
        self.d_kv = c["d_kv"]
        self.layers = c["num_layers"]
        self.eps = c.get("layer_norm_epsilon", 1e-6)
        self.buckets = c.get("relative_attention_num_buckets", 32)
        self.max_dist = c.get("relative_attention_max_distance", 128)
        self.gated = str(c.get("feed_forward_proj", "relu")).startswith("gated")
        w = read_safetensors(os.path.join(folder, "model.safetensors"))
        if "shared.weight" not in w and "encoder.embed_tokens.weight" in w:
            w["shared.weight"] = w["encoder.embed_tokens.weight"]
        self.w = {k: v for k, v in w.items()}
        self.tokenizer = Tokenizer(os.path.join(folder, "tokenizer.json"))
        self.device = torch.device("cpu")

    def to_device(self, device):
        self.w = {k: v.to(device) for k, v in self.w.items()}
        self.device = device
        return self

    def rms(self, x, name):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w[name]

    @torch.no_grad()
    def forward_ids(self, ids, mask):
        """ids, mask [B, T] -> last hidden state [B, T, D] (float32)"""
        w = self.w
        B, T = ids.shape
        H, dk = self.heads, self.d_kv
        x = w["shared.weight"][ids]
        pos = w["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"][relative_buckets(T, self.buckets, self.max_dist).to(ids.device)]
        bias = pos.permute(2, 0, 1)[None] + ((1 - mask) * -1e9)[:, None, None, :]
        lin = lambda v, n: v @ w[n + ".weight"].T
        for i in range(self.layers):
            p = f"encoder.block.{i}.layer."
            h = self.rms(x, p + "0.layer_norm.weight")
            q, k, v = (lin(h, p + "0.SelfAttention." + n).view(B, T, H, dk).transpose(1, 2) for n in "qkv")
            a = torch.softmax(q @ k.transpose(-1, -2) + bias, -1) @ v
            x = x + lin(a.transpose(1, 2).reshape(B, T, H * dk), p + "0.SelfAttention.o")
            h = self.rms(x, p + "1.layer_norm.weight")
            if self.gated:
                f = F.gelu(lin(h, p + "1.DenseReluDense.wi_0"), approximate="tanh") * lin(h, p + "1.DenseReluDense.wi_1")
            else:
                f = torch.relu(lin(h, p + "1.DenseReluDense.wi"))
            x = x + lin(f, p + "1.DenseReluDense.wo")
        return self.rms(x, "encoder.final_layer_norm.weight")

    def encode(self, prompts):
        """prompts -> (features [B, T, D] zero-padded, mask [B, T], lens)"""
        enc = [self.tokenizer.encode(p) for p in prompts]
        T = max(len(e) for e in enc)
        ids = torch.full((len(enc), T), self.tokenizer.pad_id, dtype=torch.long)
        mask = torch.zeros((len(enc), T))
        for b, e in enumerate(enc):
            ids[b, : len(e)] = torch.tensor(e)
            mask[b, : len(e)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        feats = self.forward_ids(ids, mask) * mask[..., None]
        return feats, mask, [len(e) for e in enc]


class CaptionBank:
    """T5 features of every distinct caption, computed once: [K, Tmax, D] + lengths, indexed per image."""

    def __init__(self, t5, captions, device, batch=256):
        uniq = sorted(set(captions))
        index = {c: i for i, c in enumerate(uniq)}
        self.caption_index = torch.tensor([index[c] for c in captions], dtype=torch.long, device=device)
        lens = [len(t5.tokenizer.encode(c)) for c in uniq]
        self.T = max(lens)
        self.feats = torch.zeros((len(uniq), self.T, t5.d_model), device=device)
        self.lens = torch.tensor(lens, dtype=torch.long, device=device)
        for i in range(0, len(uniq), batch):
            f, _, _ = t5.encode(uniq[i : i + batch])
            self.feats[i : i + f.shape[0], : f.shape[1]] = f.to(device)
        self.unique = len(uniq)

    def batch(self, image_idx):
        """features [B, T, D], mask [B, T] (float), lens [B] for the images' captions, trimmed to the longest"""
        k = self.caption_index[image_idx]
        lens = self.lens[k]
        T = int(lens.max())
        mask = (torch.arange(T, device=lens.device)[None, :] < lens[:, None]).float()
        return self.feats[k, :T], mask, lens
