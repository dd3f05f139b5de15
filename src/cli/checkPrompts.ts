/**
 * `scalekv check-prompts`: one generated image per prompt (the held-out fixture or a text file of
 * prompts), each scored by the prompt checker; writes check.json and check.md beside the runs.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createEngine } from '../engine/engine';
import type { JobContext } from '../engine/api';
import { checkImage } from '../eval/checker';
import { parsePrompt } from '../eval/prompt';
import { formatReport, summarise, type CheckItem, type CheckReport } from '../eval/report';
import { decodePng } from '../model/png';
import { DEFAULTS } from '../shared/defaults';
import { ScaleKVError } from '../shared/errors';
import type { GenerateRequest, PolicySpec } from '../shared/types';
import { readPromptsFile } from './prompts';

/** prompts from a held-out fixture ({"prompts": [{"prompt": ...}]}) or a text file, one per line */
export function readPromptList(path: string): string[] {
  if (!existsSync(path)) throw new ScaleKVError('E_INVALID_REQUEST', `Prompts file not found: ${path}`);
  if (!path.endsWith('.json')) return readPromptsFile(path);
  let j: { prompts?: { prompt?: unknown }[] };
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as typeof j;
  } catch (e) {
    throw new ScaleKVError('E_INVALID_REQUEST', `${path} is not valid JSON: ${(e as Error).message}`);
  }
  const prompts = Array.isArray(j.prompts) ? j.prompts.map((p) => p?.prompt) : [];
  if (!prompts.length || prompts.some((p) => typeof p !== 'string' || !p.trim())) {
    throw new ScaleKVError('E_INVALID_REQUEST', `${path} needs a non-empty "prompts" list of {"prompt": "..."} entries.`);
  }
  return prompts as string[];
}

export interface CheckPromptsOptions {
  prompts: string[];
  out: string;
  modelPath?: string;
  policy: PolicySpec;
  resolution: string;
  seed: number;
  provider: GenerateRequest['provider'];
  /** prompts generated together in one engine run */
  batch?: number;
  /** sampling; what is not given is the engine's default (shared/defaults.ts) */
  sampling?: Partial<Sampling>;
}

type Sampling = NonNullable<CheckReport['sampling']>;

export async function checkPrompts(
  o: CheckPromptsOptions,
  ctx: JobContext,
): Promise<{ report: CheckReport; jsonPath: string; mdPath: string }> {
  if (!o.prompts.length) throw new ScaleKVError('E_INVALID_REQUEST', 'check-prompts needs at least one prompt.');
  // every prompt must be checkable before minutes go into generating images for them
  const expected = o.prompts.map((p) => parsePrompt(p));
  const out = resolve(o.out);
  const runs = join(out, 'runs');
  mkdirSync(runs, { recursive: true });
  const sampling: Sampling = {
    cfg: o.sampling?.cfg ?? DEFAULTS.cfg,
    tau: o.sampling?.tau ?? DEFAULTS.tau,
    topK: o.sampling?.topK ?? DEFAULTS.topK,
    topP: o.sampling?.topP ?? DEFAULTS.topP,
  };
  const engine = createEngine();
  const items: CheckItem[] = [];
  let model = '';
  try {
    const batch = Math.max(1, o.batch ?? 4);
    for (let s = 0; s < o.prompts.length; s += batch) {
      const prompts = o.prompts.slice(s, s + batch);
      ctx.log?.('info', `check-prompts: ${s + prompts.length}/${o.prompts.length}`);
      const req: GenerateRequest = {
        modelPath: o.modelPath,
        prompts,
        seed: o.seed,
        aspectRatio: 1,
        resolution: o.resolution,
        ...sampling,
        policy: o.policy,
        provider: o.provider,
        outDir: runs,
        recordRetention: false,
      };
      const { run } = await engine.generate(req, ctx);
      model = run.model.name;
      run.images.forEach((im, b) => {
        const file = join(runs, run.id, im.path);
        const img = decodePng(readFileSync(file), file);
        items.push({ ...checkImage(img, prompts[b], expected[s + b]), image: join('runs', run.id, im.path) });
      });
    }
  } finally {
    await engine.dispose();
  }
  const report = summarise(items, { model, policy: o.policy.name, resolution: o.resolution, seed: o.seed, sampling });
  const jsonPath = join(out, 'check.json');
  const mdPath = join(out, 'check.md');
  for (const [p, text] of [
    [jsonPath, JSON.stringify(report, null, 2) + '\n'],
    [mdPath, formatReport(report)],
  ]) {
    writeFileSync(`${p}.tmp`, text);
    renameSync(`${p}.tmp`, p);
  }
  return { report, jsonPath, mdPath };
}
