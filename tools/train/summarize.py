"""Turn log.jsonl (+ an export's manifest) into a short Markdown summary: final numbers and coarse loss curves.

usage: python3 tools/train/summarize.py --log tools/train/log.jsonl [--manifest DIR/manifest.json] --out tools/train/SUMMARY.md
"""
import argparse
import json
import os


def curve(rows, key, n=12):
    if not rows:
        return "(none)"
    idx = sorted({int(i * (len(rows) - 1) / max(1, n - 1)) for i in range(n)})
    pick = [rows[i] for i in idx]
    return " | ".join(f"{r['step']}: {r[key]:.4g}" for r in pick)


def summarize(log_path, manifest_path=None):
    rows = []
    with open(log_path) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    vae = [r for r in rows if r["stage"] == "vae"]
    gpt = [r for r in rows if r["stage"] == "gpt"]
    out = ["# Training summary", ""]
    if manifest_path and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            m = json.load(f)
        total = sum(v["bytes"] for v in m["files"].values())
        out += [f"Model `{m['name']}` ({m['resolution']}, {m['imageSize']}x{m['imageSize']}), {total / 2**20:.1f} MiB, exported {m['training']['exported']}.", ""]
        out += [f"Training command: `{m['training']['command']}`", ""]
        out += ["| file | bytes | sha256 |", "|---|---|---|"] + [f"| {k} | {v['bytes']} | `{v['sha256']}` |" for k, v in m["files"].items()] + [""]
    if vae:
        last = vae[-1]
        out += ["## BSQ-VAE", "", f"{last['step']} steps in {last['minutes']:.1f} min (batch {last['batch']}, {last['step_s']:.3f} s/step).",
                f"Final: loss {last['loss']:.4f}, L1 {last['l1']:.4f}, reconstruction PSNR {last['psnr']:.2f} dB, commitment {last['commit']:.4f}, share of 1-bits {last['bit_ones']:.3f}.", "",
                f"PSNR by step: {curve(vae, 'psnr')}", "", f"Loss by step: {curve(vae, 'loss')}", ""]
    if gpt:
        last = gpt[-1]
        out += ["## Transformer", "", f"{last['step']} steps in {last['minutes']:.1f} min (batch {last['batch']}, {last['step_s']:.3f} s/step).",
                f"Final: loss {last['loss']:.4f} (bitwise cross-entropy, scale-weighted); bit accuracy per scale (teacher-forced, training batch): {last['bit_acc']}.", "",
                f"Loss by step: {curve(gpt, 'loss')}", ""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--log", required=True)
    ap.add_argument("--manifest", default=None)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    text = summarize(a.log, a.manifest)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
