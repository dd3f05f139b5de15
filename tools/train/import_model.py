"""Turn an exported model folder back into training checkpoints, so that training can go on from a
finished export (e.g. a third GPU call): the export holds the same fp16 weights as the checkpoints, and its
manifest the configs, steps and training time.

usage: python3 tools/train/import_model.py --model DIR --ckpt DIR
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ConfigError, save_checkpoint  # noqa: E402


class Weights(torch.nn.Module):
    """a state_dict holder, so save_checkpoint writes exactly these tensors"""

    def __init__(self, sd):
        super().__init__()
        self.sd = sd

    def state_dict(self, *a, **k):
        return self.sd


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True)
    ap.add_argument("--ckpt", required=True)
    a = ap.parse_args(argv)
    p = os.path.join(a.model, "manifest.json")
    if not os.path.exists(p):
        raise ConfigError(f"{a.model} has no manifest.json; is it an export of tools/train/export.py?")
    with open(p) as f:
        man = json.load(f)
    tr = man.get("training") or {}
    for kind, file, nested in (("vae", man["vae"], "vae"), ("gpt", man["transformer"], None)):
        meta = tr.get("vae" if kind == "vae" else "transformer") or {}
        if not meta.get("config"):
            raise ConfigError(f"{p} records no {kind} training config; it cannot be resumed")
        sd = torch.load(os.path.join(a.model, file), map_location="cpu")
        if nested:
            sd = sd[nested]
        save_checkpoint(a.ckpt, kind, Weights(sd), {k: v for k, v in meta.items() if v is not None})
        print(f"{kind}: step {meta.get('step')} -> {a.ckpt}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
