"""Fast CPU tests of the training code (seconds; PyTorch 1.13 or 2.x): /usr/bin/python3 tools/train/test_train.py

Engine parity is parity.py's job; these check the training code's own invariants.
"""
import json
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bsq_vae import BSQVAE, codes_from_bits, quantize_multiscale, quantize_self_correcting  # noqa: E402
from export import kept_fields  # noqa: E402
from common import ConfigError, Dataset, get_config, load_checkpoint, save_checkpoint, schedule_of  # noqa: E402
from gpt_train import draw_weights, edge_tokens, edge_weights, parse_shape_weights  # noqa: E402
from infinity_model import Infinity, sequence_tables  # noqa: E402


class EdgeWeights(unittest.TestCase):
    SCHED = [(1, 1), (2, 2), (4, 4), (8, 8)]

    def test_an_outline_is_marked_and_flat_areas_and_gradients_are_not(self):
        x = torch.full((2, 3, 64, 64), -1.0)
        x[0, 0, 16:48, 16:48] = 1.0  # a red square on black, pixels 16-47: tokens 2-5 of the 8x8 map
        x[1] = torch.linspace(-1, 1, 64).view(1, 1, 64)  # a left-to-right gradient, 0.03 per pixel
        e = edge_tokens(x, self.SCHED)
        self.assertEqual(tuple(e.shape), (2, 1 + 4 + 16 + 64))
        last = e[0, -64:].view(8, 8)
        # the square's left/top edges fall in token 2, its right/bottom ones (pixel 48) in token 6
        for r, c in [(2, 4), (4, 2), (6, 4), (4, 6), (2, 2)]:
            self.assertTrue(bool(last[r, c]), (r, c))
        for r, c in [(0, 0), (4, 4), (3, 3), (7, 7), (0, 4)]:
            self.assertFalse(bool(last[r, c]), (r, c))
        self.assertTrue(bool(e[0, 0]))  # the 1x1 scale holds the whole outline
        self.assertFalse(bool(e[1].any()))

    def test_weights_favour_edges_and_keep_each_scales_mean(self):
        edges = torch.zeros(1, 85, dtype=torch.bool)
        edges[0, 5 + 3] = True  # one edge token of the 4x4 scale
        w = edge_weights(edges, self.SCHED, 3.0)
        segs = w[0].split([1, 4, 16, 64])
        for seg in segs:
            self.assertAlmostEqual(float(seg.mean()), 1.0, places=5)
        self.assertAlmostEqual(float(segs[2][3] / segs[2][0]), 4.0, places=5)
        self.assertTrue(bool((segs[3] == 1).all()))


class DrawWeights(unittest.TestCase):
    def test_listed_shapes_and_single_images_are_drawn_more_often(self):
        kinds = ["single", "single", "count", "relation"]
        shapes = [frozenset({"star"}), frozenset({"circle"}), frozenset({"star"}), frozenset({"circle", "diamond"})]
        w = draw_weights(kinds, shapes, 2.0, parse_shape_weights("star=3, diamond=1.5"))
        self.assertEqual(w.tolist(), [6.0, 2.0, 3.0, 1.5])
        self.assertIsNone(draw_weights(kinds, shapes, 1.0, {}))

    def test_bad_shape_weights_are_refused(self):
        for bad in ["star", "star=", "star=0", "star=-1", "=2", "star=two", "star=inf", "star=nan"]:
            with self.assertRaises(ConfigError, msg=bad):
                parse_shape_weights(bad)
        self.assertEqual(parse_shape_weights(""), {})


class Quantiser(unittest.TestCase):
    def test_replay_of_the_bits_rebuilds_the_quantised_sum(self):
        torch.manual_seed(0)
        sched = schedule_of(get_config(False))
        z = torch.randn(2, 16, 32, 32)
        f_hat, bits = quantize_multiscale(z, sched)
        f2, inputs = codes_from_bits(bits, sched, 16)
        self.assertLess(float((f_hat - f2).abs().max()), 1e-5)
        self.assertEqual([t.shape[1] for t in inputs], [h * w for h, w in sched[1:]])
        # the residual shrinks: more scales, closer to z
        err = [float((quantize_multiscale(z, sched[:k])[0] - z).pow(2).mean()) for k in (2, 6, 10)]
        self.assertTrue(err[0] > err[1] > err[2], err)

    def test_self_correction_without_flips_is_the_plain_quantiser_and_replay(self):
        torch.manual_seed(2)
        sched = schedule_of(get_config(False))
        z = torch.randn(3, 16, 32, 32)
        _, bits = quantize_multiscale(z, sched)
        _, inputs = codes_from_bits(bits, sched, 16)
        targets, ins = quantize_self_correcting(z, sched, torch.zeros(3))
        for a, b in zip(targets, bits):
            self.assertTrue(torch.equal(a, b))
        for a, b in zip(ins, inputs):
            self.assertLess(float((a - b).abs().max()), 1e-6)

    def test_self_correction_targets_correct_the_flipped_bits(self):
        torch.manual_seed(3)
        sched = schedule_of(get_config(False))[:3]
        z = torch.randn(2, 16, 32, 32)
        # image 0 flips every bit, image 1 none
        targets, ins = quantize_self_correcting(z, sched, torch.tensor([1.0, 0.0]))
        _, bits = quantize_multiscale(z, sched)
        self.assertTrue(torch.equal(targets[0], bits[0]))  # scale 0 sees no flipped bits yet
        flipped0 = 1 - bits[0]
        _, replay = codes_from_bits([flipped0, bits[1], bits[2]], sched, 16)
        self.assertLess(float((ins[0][0] - replay[0][0]).abs().max()), 1e-6)  # the input replays the flipped bits
        self.assertLess(float((ins[0][1] - codes_from_bits(bits, sched, 16)[1][0][1]).abs().max()), 1e-6)
        # float64 reference of scale 1's target: the sign of the residual left by the flipped scale 0, area-averaged
        q0 = (flipped0[0].double() * 2 - 1) * 16**-0.5  # [1, 16]
        resid = z[0].double() - q0.view(16, 1, 1)  # a 1x1 map upsamples to a constant
        ref = torch.nn.functional.avg_pool2d(resid[None], 16)[0] > 0  # 32x32 -> 2x2
        self.assertTrue(torch.equal(targets[1][0], ref.flatten(1).t().to(torch.uint8)))
        self.assertFalse(torch.equal(targets[1][0], bits[1][0]))  # it differs from the clean bits: it corrects

    def test_vae_shapes(self):
        cfg = get_config(True)
        vae = BSQVAE(cfg["vae"])
        x = torch.rand(1, 3, 64, 64) * 2 - 1
        xr, z, f_hat, bits = vae(x, [(1, 1), (2, 2), (4, 4)])
        self.assertEqual(tuple(xr.shape), (1, 3, 64, 64))
        self.assertEqual(tuple(z.shape), (1, 16, 4, 4))
        self.assertEqual([tuple(b.shape) for b in bits], [(1, 1, 16), (1, 4, 16), (1, 16, 16)])


class TeacherForcing(unittest.TestCase):
    def test_a_scale_sees_only_itself_and_earlier_scales(self):
        torch.manual_seed(1)
        cfg = get_config(True)
        sched = schedule_of(cfg)[:5]
        m = Infinity(cfg, 64).eval()
        with torch.no_grad():
            for p in m.parameters():  # the zero-initialised head would hide everything
                p.add_(torch.randn_like(p) * 0.05)
        rope, mask, N, P = sequence_tables(sched, m.C // m.H, torch.device("cpu"))
        text = torch.randn(1, 5, 64)
        tm = torch.ones(1, 5)
        ins = [torch.randn(1, h * w, 16) * 0.25 for h, w in sched[1:]]
        with torch.no_grad():
            a = m(text, tm, ins, sched, rope, mask, P)
            ins2 = list(ins)
            ins2[2] = ins2[2] + 1.0  # scale 3's input
            b = m(text, tm, ins2, sched, rope, mask, P)
        start3 = sum(h * w for h, w in sched[:3])
        self.assertLess(float((a[:, :start3] - b[:, :start3]).abs().max()), 1e-6)
        self.assertGreater(float((a[:, start3:] - b[:, start3:]).abs().max()), 1e-3)


class Resume(unittest.TestCase):
    def test_a_resumed_export_keeps_the_manifests_own_fields_but_not_its_stale_profiles(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "manifest.json")
            with open(p, "w") as f:
                json.dump({"name": "m", "files": {}, "profile": "a.json", "profiles": ["a.json"], "promptCheckFloor": 0.5,
                           "training": {"command": "call1"}}, f)
            kept, previous = kept_fields(p)
            self.assertEqual(kept, {"promptCheckFloor": 0.5})
            self.assertEqual(previous, {"command": "call1"})
            self.assertEqual(kept_fields(None), ({}, None))


class Refusals(unittest.TestCase):
    def test_checkpoint_of_another_config_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            vae = BSQVAE(get_config(True)["vae"])
            save_checkpoint(d, "vae", vae, {"config": {"a": 1}, "step": 3, "train_seconds": 1.0})
            sd, meta = load_checkpoint(d, "vae", {"a": 1})
            self.assertEqual(meta["step"], 3)
            self.assertEqual(set(sd), set(vae.state_dict()))
            with self.assertRaises(ConfigError) as e:
                load_checkpoint(d, "vae", {"a": 2})
            self.assertIn("was trained with config", str(e.exception))

    def test_dataset_of_another_size_or_truncated_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "dataset.json"), "w") as f:
                json.dump({"version": 1, "count": 2, "size": 8, "seed": 0, "split": "train", "vocabulary": []}, f)
            np.zeros((2, 8, 8, 3), np.uint8).tofile(os.path.join(d, "images.u8"))
            with open(os.path.join(d, "meta.jsonl"), "w") as f:
                f.write('{"caption": "a", "scene": {}}\n{"caption": "b", "scene": {}}\n')
            self.assertEqual(Dataset(d, 8).count, 2)
            with self.assertRaises(ConfigError) as e:
                Dataset(d, 16)
            self.assertIn("trains at 16x16", str(e.exception))
            np.zeros((1, 8, 8, 3), np.uint8).tofile(os.path.join(d, "images.u8"))
            with self.assertRaises(ConfigError) as e:
                Dataset(d, 8)
            self.assertIn("bytes", str(e.exception))


if __name__ == "__main__":
    unittest.main()
