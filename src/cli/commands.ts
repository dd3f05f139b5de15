/** CLI commands that are not engine jobs: the tiny checkpoint, budget import/export. */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writePth, type PthTree } from '../checkpoint/pthWriter';
import { INFINITY_TINY } from '../model/config';
import { parseAspect, scaleSchedule } from '../model/schedule';
import { makeTinyInfinityWeights } from '../model/tiny/infinityTiny';
import { tinyTokenizerText, writeTinyT5 } from '../model/tiny/t5Tiny';
import { makeTinyVaeWeights } from '../model/tiny/vaeTiny';
import type { MapWeights } from '../model/weights';
import { createEngine } from '../engine/engine';
import { readModelConfig } from '../engine/modelInfo';
import { parseOfficialTable } from '../scalekv/officialBudget';
import { checkProfileMatches, formatOfficialTable, parseProfile, profileFromOfficial, profileToOfficial } from '../scalekv/profile';
import { DEFAULTS } from '../shared/defaults';
import { calibrateRequest } from '../shared/requests';
import { ScaleKVError } from '../shared/errors';
import { checkOutputFile, writeFileAtomic } from '../shared/outputFiles';
import type { ProfileModelRef } from '../shared/types';
import type { ModelManifest } from '../checkpoint/modelFolder';
import { has, num, str, type ParsedArgs } from './args';
import { progressPrinter } from './progressPrinter';

function tree(w: MapWeights): PthTree {
  const t: PthTree = {};
  for (const n of w.names()) t[n] = { shape: w.shape(n), data: w.get(n) };
  return t;
}

/**
 * Writes the random tiny model in the official layouts (transformer .pth with block_chunks names,
 * VAE .pth nested under "vae", flan-t5-shaped encoder in HF safetensors layout); with `calibrate`, also
 * one profile per 1:1 resolution on the default prompts (the tests read them). Deterministic. The build
 * writes it uncalibrated: the embedded default is the trained model, whose profiles are committed.
 */
export async function makeTiny(out: string, calibrate = false): Promise<void> {
  // a model from an older build (another tokenizer) is replaced whole, its profiles with it
  for (const f of readdirSafe(out)) if (f.startsWith('profile-')) rmSync(join(out, f), { force: true });
  mkdirSync(out, { recursive: true });
  writePth(join(out, 'infinity_tiny.pth'), tree(makeTinyInfinityWeights(INFINITY_TINY)), 'infinity_tiny');
  writePth(join(out, 'infinity_vae_tiny.pth'), { vae: tree(makeTinyVaeWeights(INFINITY_TINY.vae)) }, 'infinity_vae_tiny');
  writeTinyT5(join(out, 'flan-t5-tiny'), INFINITY_TINY.t5);
  const manifest: ModelManifest = {
    format: 'scalekv-model',
    name: INFINITY_TINY.name,
    transformer: 'infinity_tiny.pth',
    vae: 'infinity_vae_tiny.pth',
    textEncoder: 'flan-t5-tiny',
  };
  writeFileAtomic(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2));
  if (!calibrate) return;
  // one calibrated profile per 1:1 resolution, so ScaleKV runs on the embedded model out of the box
  const engine = createEngine();
  const profiles: string[] = [];
  try {
    for (const resolution of ['1M', '0.60M', '0.25M', '0.06M']) {
      const file = `profile-${resolution}-10pct.json`;
      const prefix = `  calibrating ${resolution}: `;
      const onProgress = progressPrinter({ write: (s) => process.stderr.write(s), tty: !!process.stderr.isTTY, prefix });
      await engine.calibrate(calibrateRequest({ modelPath: out, prompts: [], resolution, provider: 'cpu', outPath: join(out, file) }), {
        onProgress,
        signal: new AbortController().signal,
      });
      onProgress.done();
      profiles.push(file);
    }
  } finally {
    await engine.dispose();
  }
  writeFileAtomic(join(out, 'manifest.json'), JSON.stringify({ ...manifest, profile: profiles[0], profiles }, null, 2));
}

function readInput(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `The ${what} ${path} does not exist.` : `Cannot read the ${what} ${path}: ${(e as Error).message}`;
    throw new ScaleKVError('E_INVALID_REQUEST', why);
  }
}

/**
 * Validate an official table and write it as a profile. With --model, the model's own depth, heads
 * and name (read off its files) are used and the table must fit them; without, they come from the
 * table and the flags. The schedule is --resolution at --aspect.
 */
export function importBudget(input: string, out: string, a: ParsedArgs): string {
  checkOutputFile(out);
  const table = parseOfficialTable(readInput(input, 'budget table'), input);
  const schedule = scaleSchedule(parseAspect(str(a, 'aspect', DEFAULTS.aspect)!), str(a, 'resolution', DEFAULTS.resolution)!);
  let model: ProfileModelRef;
  if (has(a, 'model')) {
    const clash = ['depth', 'heads', 'head-dim', 'name'].find((f) => has(a, f));
    if (clash) throw new ScaleKVError('E_USAGE', `--${clash} comes from the model's files when --model is given; leave it out.`);
    const cfg = readModelConfig(str(a, 'model'));
    model = { name: cfg.name, depth: cfg.depth, numHeads: cfg.numHeads, headDim: cfg.embedDim / cfg.numHeads, schedule };
  } else {
    const depth = num(a, 'depth', Object.keys(Object.values(table)[0] ?? {}).filter((k) => k.startsWith('Block')).length);
    const numHeads = num(a, 'heads', depth === 40 ? 28 : 16);
    model = { name: str(a, 'name', `infinity-${depth}-layers`)!, depth, numHeads, headDim: num(a, 'head-dim', 128), schedule };
  }
  const p = profileFromOfficial(table, model, input);
  checkProfileMatches(p, model, input);
  writeFileAtomic(out, JSON.stringify(p, null, 2));
  return out;
}

export function exportBudget(input: string, out: string): string {
  checkOutputFile(out);
  const p = parseProfile(readInput(input, 'profile'), input);
  writeFileAtomic(out, formatOfficialTable(profileToOfficial(p)));
  return out;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * a complete tiny model: every file present, the tokenizer this code writes (an older build's is replaced),
 * and with `profiles` its four calibrated profiles
 */
export function tinyIsBuilt(dir: string, profiles = false): boolean {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
      transformer: string;
      vae: string;
      textEncoder: string;
      profiles?: string[];
    };
    const tokenizer = readFileSync(join(dir, m.textEncoder, 'tokenizer.json'), 'utf8');
    if (tokenizer !== tinyTokenizerText(INFINITY_TINY.t5)) return false;
    if (![m.transformer, m.vae, m.textEncoder].every((f: string) => existsSync(join(dir, f)))) return false;
    if (!profiles) return true;
    const files = (m.profiles ?? []).every((f: string) => existsSync(join(dir, f))) && (m.profiles ?? []).length === 4;
    // profiles from before the official rule and the per-head statistics (hack, heatkv) are rebuilt
    return (
      files &&
      (m.profiles ?? []).every((f) => {
        const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { settings?: { budgetRule?: string }; hack?: unknown; heat?: unknown };
        return p.settings?.budgetRule === 'official' && p.hack && p.heat;
      })
    );
  } catch {
    return false;
  }
}
