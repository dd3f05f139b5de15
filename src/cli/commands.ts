/** CLI commands that are not engine jobs: the tiny checkpoint, budget import/export, prompt files. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePth, type PthTree } from '../checkpoint/pthWriter';
import { INFINITY_TINY } from '../model/config';
import { scaleSchedule } from '../model/schedule';
import { makeTinyInfinityWeights } from '../model/tiny/infinityTiny';
import { writeTinyT5 } from '../model/tiny/t5Tiny';
import { makeTinyVaeWeights } from '../model/tiny/vaeTiny';
import type { MapWeights } from '../model/weights';
import { createEngine } from '../engine/engine';
export { readPromptsFile as readPrompts } from '../engine/prompts';
import { parseOfficialTable } from '../scalekv/officialBudget';
import { formatOfficialTable, parseProfile, profileFromOfficial, profileToOfficial } from '../scalekv/profile';
import type { ModelManifest } from '../checkpoint/modelFolder';
import { num, str, type ParsedArgs } from './args';

function tree(w: MapWeights): PthTree {
  const t: PthTree = {};
  for (const n of w.names()) t[n] = { shape: w.shape(n), data: w.get(n) };
  return t;
}

/**
 * Writes the embedded tiny model in the official layouts (transformer .pth with block_chunks names,
 * VAE .pth nested under "vae", flan-t5-shaped encoder in HF safetensors layout), then calibrates it
 * on the default prompts at 1024x1024 so ScaleKV works out of the box. Deterministic.
 */
export async function makeTiny(out: string, calibrate = true): Promise<void> {
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
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2));
  if (!calibrate) return;
  // one calibrated profile per 1:1 resolution, so ScaleKV runs on the embedded model out of the box
  const engine = createEngine();
  const profiles: string[] = [];
  try {
    for (const resolution of ['1M', '0.60M', '0.25M', '0.06M']) {
      const file = `profile-${resolution}-10pct.json`;
      await engine.calibrate(
        { modelPath: out, prompts: [], targetRatio: 0.1, aspectRatio: 1, resolution, cfg: 3, provider: 'cpu', outPath: join(out, file) },
        { onProgress: (p) => p.stage === 'calibrate' && p.scaleIndex === 0 && /layer 1\//.test(p.message) && process.stderr.write(`  calibrating ${resolution}: ${p.message}\n`), signal: new AbortController().signal },
      );
      profiles.push(file);
    }
  } finally {
    await engine.dispose();
  }
  writeFileSync(join(out, 'manifest.json'), JSON.stringify({ ...manifest, profile: profiles[0], profiles }, null, 2));
}

/** Validate an official table against a model's depth and the 1:1 1M schedule, and write it as a profile. */
export function importBudget(input: string, out: string, a: ParsedArgs): string {
  const text = readFileSync(input, 'utf8');
  const table = parseOfficialTable(text, input);
  const depth = num(a, 'depth', Object.keys(Object.values(table)[0] ?? {}).filter((k) => k.startsWith('Block')).length);
  const schedule = scaleSchedule(1, str(a, 'resolution', '1M')!);
  const model = { name: str(a, 'name', `infinity-${depth}-layers`)!, depth, numHeads: num(a, 'heads', depth === 40 ? 28 : 16), headDim: num(a, 'head-dim', 128), schedule };
  const p = profileFromOfficial(table, model, input);
  writeFileSync(out, JSON.stringify(p, null, 2));
  return out;
}

export function exportBudget(input: string, out: string): string {
  const p = parseProfile(readFileSync(input, 'utf8'), input);
  writeFileSync(out, formatOfficialTable(profileToOfficial(p)));
  return out;
}

/** a complete embedded model: manifest with its calibrated profiles, every file present */
export function tinyIsBuilt(dir: string): boolean {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    return [m.transformer, m.vae, m.textEncoder, ...(m.profiles ?? [])].every((f: string) => existsSync(join(dir, f))) && (m.profiles ?? []).length === 4;
  } catch {
    return false;
  }
}
