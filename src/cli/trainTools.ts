/**
 * CLI commands the training code (tools/train/) relies on, so that the PyTorch side and the engine
 * provably agree:
 *   make-text-encoder  the frozen flan-t5-shaped encoder of a trained model, with a tokenizer that holds
 *                      every word of a dataset's vocabulary as one piece;
 *   encode-text        token ids and T5 features of prompts as the engine computes them (JSON);
 *   export-case        (with --model) a teacher-forced case of a real model folder: text features, the
 *                      forced bits and codes of every scale, the logits of every scale and the decoded image.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { locateModel } from '../checkpoint/modelFolder';
import { TINY_T5, type T5Config } from '../model/config';
import { cumulativeTokens, scaleSchedule } from '../model/schedule';
import { TextEncoder } from '../engine/textEncoder';
import { UnigramTokenizer } from '../model/tokenizer/unigram';
import { writeTinyT5 } from '../model/tiny/t5Tiny';
import { gaussian } from '../model/weights';
import { generateImages } from '../engine/generate';
import { loadModel } from '../engine/loadModel';
import { createPolicy } from '../scalekv/policies';
import { ScaleKVError } from '../shared/errors';
import type { ProviderSetting } from '../shared/types';
import { list, num, str, type ParsedArgs } from './args';

/** dataset.json's word list (the dataset generator's contract) */
function datasetWords(dir: string): string[] {
  const p = join(dir, 'dataset.json');
  let j: { vocabulary?: unknown };
  try {
    j = JSON.parse(readFileSync(p, 'utf8')) as typeof j;
  } catch (e) {
    throw new ScaleKVError('E_INVALID_REQUEST', `Cannot read ${p}: ${(e as Error).message}`);
  }
  if (!Array.isArray(j.vocabulary) || !j.vocabulary.every((w) => typeof w === 'string' && /^\S+$/.test(w))) {
    throw new ScaleKVError('E_INVALID_REQUEST', `${p} has no 'vocabulary' list of single words.`);
  }
  return j.vocabulary as string[];
}

/** the trained model's encoder: the tiny T5's shape with room for a dataset's words */
function trainedT5Config(vocabSize: number): T5Config {
  return { ...TINY_T5, vocabSize };
}

export function makeTextEncoder(a: ParsedArgs): string {
  const out = resolve(str(a, 'out', 'flan-t5-shapes')!);
  const words = str(a, 'dataset') ? datasetWords(resolve(str(a, 'dataset')!)) : list(a, 'word');
  if (!words.length)
    throw new ScaleKVError('E_INVALID_REQUEST', 'make-text-encoder needs --dataset DIR (its dataset.json vocabulary) or --word W ...');
  writeTinyT5(out, trainedT5Config(num(a, 'vocab-size', 512)), { words, seed: num(a, 'seed', 2024), relStd: num(a, 'rel-std', 2) });
  return out;
}

export async function encodeText(a: ParsedArgs): Promise<string> {
  const dir = resolve(str(a, 'text-encoder') ?? locateModel(resolve(str(a, 'model')!)).textEncoderDir);
  const prompts = list(a, 'prompt');
  if (!prompts.length) throw new ScaleKVError('E_INVALID_REQUEST', 'encode-text needs at least one --prompt.');
  const tok = UnigramTokenizer.fromFile(join(dir, 'tokenizer.json'));
  const enc = await TextEncoder.load(dir, 'cpu');
  try {
    const r = await enc.encode(prompts);
    const D = enc.config.dModel;
    const rows = prompts.map((p, b) => ({
      prompt: p,
      ids: tok.encode(p).ids,
      features: Array.from(r.features.subarray(b * r.maxLen * D, (b * r.maxLen + r.lens[b]) * D)),
    }));
    const out = resolve(str(a, 'out', 'encode-text.json')!);
    writeFileSync(out, JSON.stringify({ dModel: D, rows }));
    return out;
  } finally {
    await enc.release();
  }
}

/** A model folder's transformer and VAE decoder on teacher-forced random bits, everything written for tools/train/parity.py. */
export async function exportModelCase(a: ParsedArgs): Promise<string> {
  const modelDir = resolve(str(a, 'model')!);
  const out = resolve(str(a, 'out', 'case')!);
  const prompt = str(a, 'prompt', 'a red circle at the top left')!;
  const resolution = str(a, 'resolution', '0.25M')!;
  const cfgScale = num(a, 'cfg', 3);
  mkdirSync(out, { recursive: true });
  const ctx = { onProgress: () => {}, signal: new AbortController().signal };
  const m = await loadModel(modelDir, (str(a, 'provider', 'cpu') as ProviderSetting) ?? 'cpu', ctx);
  try {
    const cfg = m.cfg;
    const schedule = scaleSchedule(1, resolution);
    const d = cfg.codebookDim;
    const forced = schedule.map((s, si) => Uint8Array.from(gaussian(s.h * s.w * d, 1, 1000 + si), (v) => (v > 0 ? 1 : 0)));
    const text = await m.generation.encodeText([prompt]);
    const logits: Float32Array[] = [];
    const codes: Float32Array[] = [];
    let z: Float32Array | null = null;
    const res = await generateImages(
      { ...m.generation, decode: (zz, B, h, w) => ((z = zz.slice()), m.generation.decode(zz, B, h, w)) },
      {
        prompts: [prompt],
        seed: 0,
        aspectRatio: 1,
        resolution,
        cfg: cfgScale,
        tau: 1,
        topK: 0,
        topP: 0,
        policy: createPolicy(
          { name: 'full' },
          { depth: cfg.depth, numHeads: cfg.numHeads, headDim: cfg.embedDim / cfg.numHeads, schedule },
        ),
        queryMode: 'code',
        recordRetention: false,
        forcedBits: forced,
        onLogits: (si, l) => (logits[si] = l.slice()),
        onScaleCodes: (si, c) => (codes[si] = c.slice()),
      },
    );
    const T = text.maxLen;
    writeFileSync(join(out, 'text.f32'), text.features);
    forced.forEach((b, si) => writeFileSync(join(out, `bits${si}.u8`), b));
    codes.forEach((c, si) => c && writeFileSync(join(out, `codes${si}.f32`), c));
    writeFileSync(join(out, 'logits.f32'), concat(logits));
    writeFileSync(join(out, 'z.f32'), z!);
    writeFileSync(join(out, 'image.f32'), res.images);
    const tok = UnigramTokenizer.fromFile(join(locateModel(modelDir).textEncoderDir, 'tokenizer.json'));
    writeFileSync(
      join(out, 'case.json'),
      JSON.stringify(
        {
          model: modelDir,
          config: cfg,
          prompt,
          ids: tok.encode(prompt).ids,
          cfg: cfgScale,
          rows: cfgScale !== 1 ? 2 : 1,
          textLen: T,
          resolution,
          schedule: schedule.map((s) => [s.h, s.w]),
          finalGrid: [scaleSchedule(1, '1M').at(-1)!.h, scaleSchedule(1, '1M').at(-1)!.w],
          tokens: cumulativeTokens(schedule).at(-1),
          image: [res.height, res.width],
        },
        null,
        1,
      ),
    );
    return out;
  } finally {
    await m.release();
  }
}

function concat(parts: Float32Array[]): Float32Array {
  const all = new Float32Array(parts.reduce((p, l) => p + l.length, 0));
  let o = 0;
  for (const l of parts) {
    all.set(l, o);
    o += l.length;
  }
  return all;
}
