/**
 * Finds the pieces of an Infinity installation in what the user picked: our manifest.json (the
 * embedded tiny model), or the official layout — a transformer checkpoint (infinity_2b_reg.pth, a
 * sharded folder like infinity_8b_weights/ with an index, or a .safetensors), a BSQ-VAE
 * (infinity_vae_*.pth, weights under "vae" or "ema"), and a flan-t5 folder (config.json +
 * tokenizer.json + weights). Files are recognised by their tensor names, not only by file names.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ScaleKVError } from '../shared/errors';
import { openCheckpoint } from './index';

export interface ModelParts {
  name: string;
  transformer: string;
  vae: string;
  /** the prefix the VAE's decoder tensors live under ('vae.', 'ema.' or '') */
  vaePrefix: string;
  textEncoderDir: string;
  /** config override from a manifest */
  config?: unknown;
  /** ScaleKV profiles shipped with the model (one per calibrated schedule) */
  profiles: string[];
  /** the words the model was trained on, when its manifest lists them */
  vocabulary?: string[];
}

export interface ModelManifest {
  format: 'scalekv-model';
  name: string;
  transformer: string;
  vae: string;
  textEncoder: string;
  profile?: string;
  /** profiles for further schedules (resolutions / aspect ratios) */
  profiles?: string[];
  config?: unknown;
  /** the words of the captions the model was trained on (a dataset.json's vocabulary); prompts are checked against it */
  vocabulary?: string[];
  /** share of the CI held-out prompts (src/eval/floor.ts) the model must draw in the right colour and position */
  promptCheckFloor?: number;
}

type Kind = 'transformer' | 'vae' | null;

function classify(path: string): { kind: Kind; prefix: string } {
  let r;
  try {
    r = openCheckpoint(path);
  } catch {
    return { kind: null, prefix: '' };
  }
  try {
    const keys = r.keys();
    if (keys.includes('word_embed.weight')) return { kind: 'transformer', prefix: '' };
    for (const p of ['vae.', 'ema.', '']) {
      if (keys.some((k) => k === `${p}decoder.conv_in.weight` || k === `${p}decoder.conv_in.conv.weight`)) return { kind: 'vae', prefix: p };
    }
    return { kind: null, prefix: '' };
  } finally {
    r.close();
  }
}

function isT5Dir(dir: string): boolean {
  try {
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    return c.model_type === 't5' || /T5/.test(JSON.stringify(c.architectures ?? ''));
  } catch {
    return false;
  }
}

export function locateModel(path: string): ModelParts {
  if (!existsSync(path)) throw new ScaleKVError('E_CHECKPOINT_MISSING', `Model path not found: ${path}`);
  const isDir = statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  const manifestPath = join(dir, 'manifest.json');
  if (isDir && existsSync(manifestPath)) return fromManifest(manifestPath);

  const candidates: string[] = [];
  const t5dirs: string[] = [];
  const scan = (d: string, depth: number) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) {
        if (isT5Dir(p)) t5dirs.push(p);
        else if (depth < 1) scan(p, depth + 1);
      } else if (/\.(pth|pt|bin|safetensors)$/.test(n) || n.endsWith('.index.json')) {
        // shards are read through their index
        if (!/-\d{5}-of-\d{5}\./.test(n)) candidates.push(p);
      }
    }
  };
  scan(dir, 0);
  if (isT5Dir(dir)) t5dirs.push(dir);
  let transformer = !isDir ? path : undefined;
  let vae: string | undefined;
  let vaePrefix = '';
  for (const c of candidates) {
    if (c === transformer) continue;
    const k = classify(c);
    if (k.kind === 'transformer' && !transformer) transformer = c;
    if (k.kind === 'vae' && !vae) {
      vae = c;
      vaePrefix = k.prefix;
    }
  }
  const missing: string[] = [];
  if (!transformer) missing.push('the Infinity transformer (e.g. infinity_2b_reg.pth: a checkpoint with word_embed.weight)');
  if (!vae) missing.push('the BSQ-VAE (e.g. infinity_vae_d32reg.pth: a checkpoint with decoder.conv_in weights)');
  if (!t5dirs.length) missing.push('the text encoder folder (e.g. flan-t5-xl/ with config.json, tokenizer.json and weights)');
  if (missing.length) {
    throw new ScaleKVError('E_CHECKPOINT_MISSING', `${path} is missing ${missing.join('; ')}. Looked in ${dir} and its subfolders.`);
  }
  if (!existsSync(join(t5dirs[0], 'tokenizer.json'))) {
    throw new ScaleKVError('E_CHECKPOINT_MISSING', `The text encoder folder ${t5dirs[0]} has no tokenizer.json.`);
  }
  return { name: basename(transformer!).replace(/\.(pth|pt|bin|safetensors|index\.json)$/, ''), transformer: transformer!, vae: vae!, vaePrefix, textEncoderDir: t5dirs[0], profiles: [] };
}

function fromManifest(p: string): ModelParts {
  let m: ModelManifest;
  try {
    m = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${p} is not valid JSON: ${(e as Error).message}`);
  }
  if (m.format !== 'scalekv-model') throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${p} is not a ScaleKV model manifest.`);
  const dir = dirname(p);
  const parts: ModelParts = {
    name: m.name,
    transformer: join(dir, m.transformer),
    vae: join(dir, m.vae),
    vaePrefix: 'vae.',
    textEncoderDir: join(dir, m.textEncoder),
    config: m.config,
    profiles: [...(m.profile ? [m.profile] : []), ...(m.profiles ?? []).filter((x) => x !== m.profile)].map((f) => join(dir, f)),
    vocabulary: m.vocabulary,
  };
  if (m.vocabulary !== undefined && !(Array.isArray(m.vocabulary) && m.vocabulary.every((w) => typeof w === 'string'))) {
    throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${p}: 'vocabulary' must be a list of words.`);
  }
  for (const [what, f] of [['transformer', parts.transformer], ['VAE', parts.vae], ['text encoder', parts.textEncoderDir]] as const) {
    if (!existsSync(f)) throw new ScaleKVError('E_CHECKPOINT_MISSING', `${p} names the ${what} ${f}, which does not exist.`);
  }
  const k = classify(parts.vae);
  parts.vaePrefix = k.prefix;
  return parts;
}
