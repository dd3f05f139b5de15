"""A stand-in for the project's dataset generator (`node dist/cli.js dataset`), same files, for tests and as a
fallback: flat shapes on flat backgrounds, captions like "a red circle at the top left".

usage: python3 tools/train/standin_dataset.py --out DIR --count N --size S --seed K
"""
import argparse
import json
import os

import numpy as np

COLOURS = {
    "red": (220, 30, 30), "orange": (245, 140, 20), "yellow": (245, 220, 40), "green": (40, 170, 60), "blue": (40, 80, 220),
    "purple": (140, 50, 190), "pink": (245, 130, 190), "brown": (130, 80, 40), "white": (245, 245, 245), "black": (20, 20, 20),
}
SHAPES = ["circle", "square", "triangle", "ring"]
POSITIONS = ["top left", "top", "top right", "left", "centre", "right", "bottom left", "bottom", "bottom right"]


def draw(size, shape, colour, pos, bg, big):
    img = np.empty((size, size, 3), np.uint8)
    img[:] = COLOURS[bg]
    col, row = POSITIONS.index(pos) % 3, POSITIONS.index(pos) // 3
    cx, cy = (col + 0.5) * size / 3, (row + 0.5) * size / 3
    r = size * (0.14 if big else 0.09)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    dx, dy = xx - cx, yy - cy
    if shape == "circle":
        m = dx * dx + dy * dy <= r * r
    elif shape == "ring":
        d2 = dx * dx + dy * dy
        m = (d2 <= r * r) & (d2 >= (0.6 * r) ** 2)
    elif shape == "square":
        m = (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
    else:
        m = (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.58)
    img[m] = COLOURS[colour]
    return img


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="train")
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    names = list(COLOURS)
    words = set("a at the on background".split())
    with open(os.path.join(a.out, "images.u8"), "wb") as fi, open(os.path.join(a.out, "meta.jsonl"), "w") as fm:
        for _ in range(a.count):
            colour, bg = rng.choice(names, 2, replace=False)
            shape = SHAPES[rng.integers(len(SHAPES))]
            pos = POSITIONS[rng.integers(len(POSITIONS))]
            big = bool(rng.integers(2))
            size_word = "large" if big else "small"
            caption = f"a {size_word} {colour} {shape} at the {pos} on a {bg} background"
            words.update(caption.split())
            fi.write(draw(a.size, shape, colour, pos, bg, big).tobytes())
            scene = {"background": bg, "objects": [{"shape": shape, "colour": colour, "position": pos, "size": size_word}]}
            fm.write(json.dumps({"caption": caption, "scene": scene}) + "\n")
    info = {"version": 1, "count": a.count, "size": a.size, "seed": a.seed, "split": a.split, "vocabulary": sorted(words), "generator": "standin"}
    with open(os.path.join(a.out, "dataset.json"), "w") as f:
        json.dump(info, f)
    print(a.out)


if __name__ == "__main__":
    main()
