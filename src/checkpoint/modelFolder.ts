/**
 * Finds the pieces of an Infinity installation in what the user picked: our manifest.json (the
 * shipped models), or the official layout — a transformer checkpoint (infinity_2b_reg.pth, a
 * sharded folder like infinity_8b_weights/ with an index, or a .safetensors), a BSQ-VAE
 * (infinity_vae_*.pth, weights under "vae" or "ema"), and a flan-t5 folder (config.json +
 * tokenizer.json + weights). Files are recognised by their tensor names, not only by file names.
 */
import { existsSync, lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ScaleKVError } from '../shared/errors';
import { confinedPath } from './confine';
import { readSmallFile } from '../shared/files';
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
  /** sha256 of the transformer file as the manifest records it (profiles calibrated on it carry it too) */
  weightsSha256?: string;
  /** folder entries the scan skipped, and why (dangling links, unreadable folders) */
  notes: string[];
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
  /** size and sha256 of every file, by its path in the folder (tools/train/export.py writes them) */
  files?: Record<string, { sha256?: string; bytes?: number }>;
}

type Kind = 'transformer' | 'vae' | null;

/** manifest.json and a text encoder's config.json are a few KB */
const MAX_JSON_BYTES = 16 * 1024 * 1024;

/** What a candidate file is; `error` says why a file that looks like a checkpoint could not be read. */
function classify(path: string): { kind: Kind; prefix: string; error?: string } {
  let r;
  try {
    r = openCheckpoint(path);
  } catch (e) {
    return { kind: null, prefix: '', error: (e as Error).message };
  }
  try {
    const keys = r.keys();
    if (keys.includes('word_embed.weight')) return { kind: 'transformer', prefix: '' };
    for (const p of ['vae.', 'ema.', '']) {
      if (keys.some((k) => k === `${p}decoder.conv_in.weight` || k === `${p}decoder.conv_in.conv.weight`))
        return { kind: 'vae', prefix: p };
    }
    return { kind: null, prefix: '' };
  } finally {
    r.close();
  }
}

function isT5Dir(dir: string): boolean {
  const config = join(dir, 'config.json');
  if (!existsSync(config)) return false;
  try {
    const c = JSON.parse(readSmallFile(config, MAX_JSON_BYTES, 'model config')) as { model_type?: unknown; architectures?: unknown } | null;
    return c?.model_type === 't5' || /T5/.test(JSON.stringify(c?.architectures ?? ''));
  } catch {
    return false;
  }
}

/** stat that says why an entry cannot be used instead of throwing (dangling or looping links, races) */
function statEntry(p: string): { st?: Stats; why?: string } {
  try {
    return { st: statSync(p) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { why: 'a link to a file that does not exist' };
    if (code === 'ELOOP') return { why: 'a link that loops back on itself' };
    return { why: `unreadable (${code ?? (e as Error).message})` };
  }
}

export function locateModel(path: string): ModelParts {
  const top = statEntry(path);
  if (!top.st) {
    if (!lstatOk(path)) throw new ScaleKVError('E_CHECKPOINT_MISSING', `Model path not found: ${path}`);
    throw new ScaleKVError('E_CHECKPOINT_MISSING', `Model path ${path} is ${top.why}.`);
  }
  const isDir = top.st.isDirectory();
  const dir = isDir ? path : dirname(path);
  const manifestPath = join(dir, 'manifest.json');
  if (isDir && existsSync(manifestPath)) return fromManifest(manifestPath);

  const candidates: string[] = [];
  const t5dirs: string[] = [];
  const notes: string[] = [];
  const scan = (d: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch (e) {
      notes.push(`skipped the folder ${d}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const { st, why } = statEntry(p);
      if (!st) {
        // one bad entry (a dangling link, say) must not hide the rest of the folder
        notes.push(`skipped ${p}: ${why}`);
        continue;
      }
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
  const unreadable: string[] = [];
  for (const c of candidates) {
    if (c === transformer) continue;
    const k = classify(c);
    if (k.error) unreadable.push(k.error);
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
    // a damaged checkpoint is the likelier cause than a missing one: say which file and why first
    const why = unreadable.length ? ` ${unreadable.length} checkpoint file(s) could not be read: ${unreadable.join(' ')}` : '';
    const skipped = notes.length ? ` Also ${notes.join('; ')}.` : '';
    throw new ScaleKVError(
      unreadable.length ? 'E_CHECKPOINT_CORRUPT' : 'E_CHECKPOINT_MISSING',
      `${path} is missing ${missing.join('; ')}. Looked in ${dir} and its subfolders.${why}${skipped}`,
    );
  }
  if (!existsSync(join(t5dirs[0], 'tokenizer.json'))) {
    throw new ScaleKVError('E_CHECKPOINT_MISSING', `The text encoder folder ${t5dirs[0]} has no tokenizer.json.`);
  }
  return {
    name: basename(transformer!).replace(/\.(pth|pt|bin|safetensors|index\.json)$/, ''),
    transformer: transformer!,
    vae: vae!,
    vaePrefix,
    textEncoderDir: t5dirs[0],
    profiles: [],
    notes,
  };
}

function lstatOk(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function fromManifest(p: string): ModelParts {
  let m: ModelManifest;
  try {
    m = JSON.parse(readSmallFile(p, MAX_JSON_BYTES, 'model manifest')) as ModelManifest;
  } catch (e) {
    if (e instanceof ScaleKVError) throw e;
    throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${p} is not valid JSON: ${(e as Error).message}`);
  }
  if (!m || typeof m !== 'object' || m.format !== 'scalekv-model') {
    throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${p} is not a ScaleKV model manifest.`);
  }
  if (m.profiles !== undefined && !Array.isArray(m.profiles)) {
    throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${p}: "profiles" must be a list of file names.`);
  }
  const dir = dirname(p);
  const inside = (f: unknown, what: string) => confinedPath(dir, f, p, what);
  const parts: ModelParts = {
    name: typeof m.name === 'string' && m.name ? m.name : basename(dir),
    transformer: inside(m.transformer, 'transformer'),
    vae: inside(m.vae, 'VAE'),
    vaePrefix: 'vae.',
    textEncoderDir: inside(m.textEncoder, 'text encoder'),
    config: m.config,
    profiles: [...(m.profile ? [m.profile] : []), ...(m.profiles ?? []).filter((x) => x !== m.profile)].map((f) => inside(f, 'profile')),
    vocabulary: m.vocabulary,
    weightsSha256: recordedSha256(m, m.transformer),
    notes: [],
  };
  if (m.vocabulary !== undefined && !(Array.isArray(m.vocabulary) && m.vocabulary.every((w) => typeof w === 'string'))) {
    throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${p}: 'vocabulary' must be a list of words.`);
  }
  for (const [what, f] of [
    ['transformer', parts.transformer],
    ['VAE', parts.vae],
    ['text encoder', parts.textEncoderDir],
  ] as const) {
    if (!existsSync(f)) throw new ScaleKVError('E_CHECKPOINT_MISSING', `${p} names the ${what} ${f}, which does not exist.`);
  }
  const k = classify(parts.vae);
  if (k.error) throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${p} names the VAE ${parts.vae}, which cannot be read: ${k.error}`);
  parts.vaePrefix = k.prefix;
  return parts;
}

/** the manifest's sha256 of one of its files, when it records a well-formed one */
function recordedSha256(m: ModelManifest, file: unknown): string | undefined {
  const h = typeof file === 'string' && m.files && typeof m.files === 'object' ? m.files[file]?.sha256 : undefined;
  return typeof h === 'string' && /^[0-9a-f]{64}$/.test(h) ? h : undefined;
}
