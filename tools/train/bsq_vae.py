"""The BSQ-VAE: an encoder of our own design mirroring the decoder, the decoder exactly as the engine's graph
builds it (kernels/graphs/vaeDecoder.ts, official names: decoder.conv_in, decoder.mid.block_1,
decoder.up.{l}.block.{b}, decoder.up.{l}.upsample.conv, decoder.norm_out, decoder.conv_out), and the
multi-scale residual bit quantiser whose sum of bilinearly upsampled +-1/sqrt(d) codes is what the
engine's generation loop accumulates and decodes (src/engine/generate.ts).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def groups_for(ch):
    if ch % 32 == 0:
        return 32
    if ch % 24 == 0:
        return 24
    raise ValueError(f"VAE channels {ch} are not divisible by 32 or 24 (the engine's GroupNorm groups)")


def norm(ch):
    return nn.GroupNorm(groups_for(ch), ch, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x) + h


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Level(nn.Module):
    pass


class Mid(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.block_1 = ResnetBlock(ch, ch)
        self.block_2 = ResnetBlock(ch, ch)

    def forward(self, x):
        return self.block_2(self.block_1(x))


class Decoder(nn.Module):
    """z [B, d, h, w] -> image [B, 3, 16h, 16w]: the structure the engine's decoder graph runs."""

    def __init__(self, d, base, mult, nrb):
        super().__init__()
        L = len(mult)
        ch = base * mult[-1]
        self.conv_in = nn.Conv2d(d, ch, 3, padding=1)
        self.mid = Mid(ch)
        ups = [None] * L
        for lvl in reversed(range(L)):
            out = base * mult[lvl]
            lv = Level()
            blocks = []
            for _ in range(nrb + 1):
                blocks.append(ResnetBlock(ch, out))
                ch = out
            lv.block = nn.ModuleList(blocks)
            if lvl >= 1:
                lv.upsample = Upsample(ch)
            ups[lvl] = lv
        self.up = nn.ModuleList(ups)
        self.norm_out = norm(ch)
        self.conv_out = nn.Conv2d(ch, 3, 3, padding=1)

    def forward(self, z):
        h = self.mid(self.conv_in(z))
        for lvl in reversed(range(len(self.up))):
            lv = self.up[lvl]
            for b in lv.block:
                h = b(h)
            if lvl >= 1:
                h = lv.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Encoder(nn.Module):
    """image [B, 3, H, W] -> z [B, d, H/16, W/16]: the decoder's mirror (stride-2 convs for upsampling)."""

    def __init__(self, d, base, mult, nrb):
        super().__init__()
        L = len(mult)
        ch = base * mult[0]
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1)
        downs = []
        for lvl in range(L):
            out = base * mult[lvl]
            lv = Level()
            blocks = []
            for _ in range(nrb):
                blocks.append(ResnetBlock(ch, out))
                ch = out
            lv.block = nn.ModuleList(blocks)
            if lvl < L - 1:
                lv.downsample = Downsample(ch)
            downs.append(lv)
        self.down = nn.ModuleList(downs)
        self.mid = Mid(ch)
        self.norm_out = norm(ch)
        self.conv_out = nn.Conv2d(ch, d, 3, padding=1)

    def forward(self, x):
        h = self.conv_in(x)
        for lvl, lv in enumerate(self.down):
            for b in lv.block:
                h = b(h)
            if lvl < len(self.down) - 1:
                h = lv.downsample(h)
        return self.conv_out(F.silu(self.norm_out(self.mid(h))))


def quantize_multiscale(z, schedule):
    """Residual bit quantisation over the scale schedule, in float32.

    Scale k takes the residual area-averaged to its map, keeps each channel's sign as a bit, and contributes
    +-1/sqrt(d) upsampled bilinearly (align_corners=False) to the final map: the engine's accumulation.
    Returns (f_hat [B, d, H, W], bits: list of uint8 [B, h*w, d]).
    """
    z = z.float()
    B, d, H, W = z.shape
    inv = d**-0.5
    residual = z
    f_hat = torch.zeros_like(z)
    bits = []
    for h, w in schedule:
        r = residual if (h, w) == (H, W) else F.interpolate(residual, size=(h, w), mode="area")
        b = r > 0
        q = torch.where(b, torch.full_like(r, inv), torch.full_like(r, -inv))
        up = q if (h, w) == (H, W) else F.interpolate(q, size=(H, W), mode="bilinear", align_corners=False)
        f_hat = f_hat + up
        residual = residual - up
        bits.append(b.flatten(2).transpose(1, 2).to(torch.uint8))
    return f_hat, bits


def quantize_self_correcting(z, schedule, flip_p):
    """Bitwise self-correction (the Infinity paper's remedy for teacher forcing's train/test gap): quantise like
    quantize_multiscale, but flip each bit of a scale with probability flip_p (one value per image, [B]) before it
    joins the running sum. Later scales then quantise the residual left by the flipped bits, so their bits (the
    targets) learn to correct earlier mistakes, and the transformer's inputs are the replay of the flipped bits,
    as at inference, where the inputs replay sampled (sometimes wrong) bits. flip_p = 0 gives exactly
    quantize_multiscale's bits and codes_from_bits's inputs.
    Returns (target bits: list of uint8 [B, h*w, d], inputs of scales 1..: list of [B, h*w, d]).
    """
    z = z.float()
    B, d, H, W = z.shape
    inv = d**-0.5
    residual = z
    f_hat = torch.zeros_like(z)
    p = flip_p.to(z.device, torch.float32).view(B, 1, 1, 1)
    targets, inputs = [], []
    for si, (h, w) in enumerate(schedule):
        r = residual if (h, w) == (H, W) else F.interpolate(residual, size=(h, w), mode="area")
        b = r > 0
        targets.append(b.flatten(2).transpose(1, 2).to(torch.uint8))
        if si + 1 == len(schedule):
            break  # the last scale feeds nothing
        b = b ^ (torch.rand(b.shape, device=z.device) < p)
        q = torch.where(b, torch.full_like(r, inv), torch.full_like(r, -inv))
        up = q if (h, w) == (H, W) else F.interpolate(q, size=(H, W), mode="bilinear", align_corners=False)
        f_hat = f_hat + up
        residual = residual - up
        nh, nw = schedule[si + 1]
        nxt = f_hat if (nh, nw) == (H, W) else F.interpolate(f_hat, size=(nh, nw), mode="bilinear", align_corners=False)
        inputs.append(nxt.flatten(2).transpose(1, 2))
    return targets, inputs


def codes_from_bits(bits, schedule, d):
    """The engine's replay: per-scale bits -> (f_hat at the final map, the transformer's input codes of scales 1..).

    bits: list of [B, h*w, d] (0/1). Inputs of scale si > 0 are the running sum resampled bilinearly
    (align_corners=False, no antialiasing) to that scale's map, as [B, h*w, d].
    """
    inv = d**-0.5
    H, W = schedule[-1]
    B = bits[0].shape[0]
    f_hat = torch.zeros((B, d, H, W), device=bits[0].device)
    inputs = []
    for si, (h, w) in enumerate(schedule):
        q = (bits[si].float() * 2 - 1).mul_(inv).transpose(1, 2).reshape(B, d, h, w)
        f_hat = f_hat + (q if (h, w) == (H, W) else F.interpolate(q, size=(H, W), mode="bilinear", align_corners=False))
        if si + 1 < len(schedule):
            nh, nw = schedule[si + 1]
            nxt = f_hat if (nh, nw) == (H, W) else F.interpolate(f_hat, size=(nh, nw), mode="bilinear", align_corners=False)
            inputs.append(nxt.flatten(2).transpose(1, 2))
    return f_hat, inputs


class BSQVAE(nn.Module):
    def __init__(self, vcfg):
        super().__init__()
        d, base, mult, nrb = vcfg["codebook_dim"], vcfg["base_channels"], vcfg["channel_mult"], vcfg["num_res_blocks"]
        self.d = d
        self.encoder = Encoder(d, base, mult, nrb)
        self.decoder = Decoder(d, base, mult, nrb)
        self.patch = 2 ** (len(mult) - 1)

    def forward(self, x, schedule):
        z = self.encoder(x)
        f_hat, bits = quantize_multiscale(z, schedule)
        # straight-through: the decoder sees the quantised sum, the encoder gets its gradient
        zq = z + (f_hat - z).detach()
        return self.decoder(zq), z.float(), f_hat, bits
