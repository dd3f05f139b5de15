/**
 * Bad input to `scalekv evaluate` is refused with a clear E_INVALID_REQUEST before anything runs: a
 * prompts file that is empty, too large or not UTF-8, a ratio outside (0, 1], an unknown policy (the
 * message lists the registered ones), an unknown budget rule. Also the rows an evaluation plans, the
 * PNG reader the evaluation measures through, and the leaderboard's averages.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMANDS } from '../../../src/cli/commandSpecs';
import { parseArgs } from '../../../src/cli/args';
import { evaluateRequestFromArgs } from '../../../src/cli/evaluateArgs';
import { evaluatePolicies, type EvaluationEngine } from '../../../src/engine/evaluate';
import { planRows } from '../../../src/engine/evaluatePlan';
import { aggregateRows, formatPsnr } from '../../../src/engine/leaderboard';
import { MAX_PROMPTS, readPromptsFile } from '../../../src/engine/prompts';
import { parseCellSpec } from '../../../src/notebook/cellSpec';
import { decodePngPlanes, encodePng } from '../../../src/model/png';
import { POLICY_NAMES, type EvaluateRequest, type LeaderboardPromptRow } from '../../../src/shared/types';
import { rng } from '../scalekv/helpers';
import { ctx, tempDir } from './helpers';

function refused(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: { code?: string; message: string }) => {
    // the CLI's parser refuses malformed flags (E_USAGE) before the request checks see them
    assert.ok(e.code === 'E_INVALID_REQUEST' || e.code === 'E_USAGE', `${e.code}: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

function file(name: string, data: string | Buffer): string {
  const p = join(tempDir('prompts'), name);
  writeFileSync(p, data);
  return p;
}

const args = (...a: string[]) => parseArgs(['evaluate', ...a], COMMANDS);

test('prompts files: empty, too large, too many prompts, not UTF-8, missing', () => {
  refused(() => readPromptsFile(file('empty.txt', '')), /has no prompts/);
  refused(() => readPromptsFile(file('comments.txt', '# only a comment\n\n   \n')), /has no prompts/);
  refused(() => readPromptsFile(file('big.txt', Buffer.alloc(2 ** 20 + 1, 0x61))), /at most 1 MiB/);
  const many = Array.from({ length: MAX_PROMPTS + 1 }, (_, i) => `prompt ${i}`).join('\n');
  refused(() => readPromptsFile(file('many.txt', many)), /1001 prompts; at most 1000/);
  // Latin-1 "café" after one good line: the bad byte is at offset 6 + 3
  const latin1 = Buffer.concat([Buffer.from('apple\ncaf'), Buffer.from([0xe9, 0x0a])]);
  refused(() => readPromptsFile(file('latin1.txt', latin1)), /not valid UTF-8 text \(first bad byte at offset 9\)/);
  refused(() => readPromptsFile(file('utf16.txt', Buffer.from('\ufeffa red apple\n', 'utf16le'))), /not valid UTF-8/);
  refused(() => readPromptsFile(join(tempDir('prompts'), 'nope.txt')), /not found/);
  // what is accepted: UTF-8 with a BOM, CRLF, comments, non-ASCII text
  const ok = file('ok.txt', '\ufeffa red apple\r\n# skip\n  un café au lait  \n');
  assert.deepEqual(readPromptsFile(ok), ['a red apple', 'un café au lait']);
});

test('ratios outside (0, 1], unknown policies and rules are refused, naming the valid ones', () => {
  const f = file('p.txt', 'a red apple\n');
  for (const r of ['0', '-0.1', '1.5', 'abc', 'NaN']) {
    const want = r === 'abc' || r === 'NaN' ? /--ratio must be a number/ : /within \(0, 1\]/;
    refused(() => evaluateRequestFromArgs(args('--prompts-file', f, '--ratio', r)), want);
  }
  assert.deepEqual(evaluateRequestFromArgs(args('--prompts-file', f, '--ratio', '1', '--ratio', '0.04')).ratios, [1, 0.04]);
  refused(() => evaluateRequestFromArgs(args('--prompts-file', f, '--policy', 'snapkv', '--policy', 'streamingllm')), /streamingllm/);
  try {
    evaluateRequestFromArgs(args('--prompts-file', f, '--policy', 'nope'));
    assert.fail('an unknown policy was accepted');
  } catch (e) {
    // every registered policy but the reference is listed, whatever the registry holds
    for (const p of POLICY_NAMES.filter((n) => n !== 'full')) assert.match((e as Error).message, new RegExp(`\\b${p}\\b`));
  }
  refused(() => evaluateRequestFromArgs(args('--prompts-file', f, '--policy', 'full')), /reference/);
  refused(() => evaluateRequestFromArgs(args('--prompts-file', f, '--budget-rule', 'paper')), /official, legacy/);
  refused(() => evaluateRequestFromArgs(args('--prompts-file', f, '--seed', '-1')), /Seed must be a non-negative integer/);
  refused(() => evaluateRequestFromArgs(args('--prompts-file', f, '--ablation', '--policy', 'snapkv')), /include --policy scalekv/);
  refused(() => evaluateRequestFromArgs(args('--prompts-file', file('e.txt', ''))), /has no prompts/);
  refused(() => evaluateRequestFromArgs(args()), /needs prompts/);
  const ok = evaluateRequestFromArgs(args('--prompts-file', f));
  assert.deepEqual(ok.ratios, [0.04, 0.1, 0.2]);
  assert.deepEqual(
    ok.policies,
    POLICY_NAMES.filter((n) => n !== 'full'),
  );
});

test('the engine refuses a bad request before generating or writing anything', async () => {
  let calls = 0;
  const e: EvaluationEngine = {
    generate: async () => assert.fail(`generate called (${++calls})`),
    calibrate: async () => assert.fail('calibrate called'),
    describeModel: async () => assert.fail('the model was loaded'),
  };
  const out = join(tempDir('eval-bad'), 'out');
  const base: EvaluateRequest = {
    ...{ prompts: ['a'], seeds: [0], policies: ['snapkv'], ratios: [0.1], aspectRatio: 1, resolution: '0.06M', cfg: 3 },
    ...{ tau: 1, topK: 900, topP: 0.97, provider: 'cpu', outDir: out },
  };
  const bads = [
    { ratios: [0] },
    { ratios: [1.01] },
    { policies: ['hello' as 'snapkv'] },
    { prompts: [] },
    { prompts: ['  '] },
    { resolution: '3M' },
  ];
  for (const bad of bads) {
    const clear = (x: { code?: string }) => x.code === 'E_INVALID_REQUEST' || x.code === 'E_RESOLUTION';
    await assert.rejects(evaluatePolicies(e, { ...base, ...bad }, ctx()), clear);
  }
  assert.equal(calls, 0);
  assert.equal(existsSync(out), false);
});

test('planned rows: every policy at every ratio, once per budget rule; ScaleKV once per ASI variant in the ablation', () => {
  const base = { policies: ['scalekv', 'snapkv'], ratios: [0.04, 0.1] } as unknown as EvaluateRequest;
  assert.equal(planRows(base).length, 4);
  const rules = planRows({ ...base, budgetRules: ['official', 'legacy'] });
  assert.equal(rules.length, 8);
  assert.deepEqual([...new Set(rules.map((r) => r.budgetRule))], ['official', 'legacy']);
  assert.equal(new Set(rules.map((r) => r.key)).size, 8);
  const abl = planRows({ ...base, ablation: true });
  assert.equal(abl.length, 3 * 2 + 2);
  assert.deepEqual([...new Set(abl.filter((r) => r.policy === 'scalekv').map((r) => r.asiMode))], ['eq2', 'current', 'history']);
  assert.ok(abl.filter((r) => r.policy === 'snapkv').every((r) => r.asiMode === undefined));
});

test('the PNG decoder gives back the planes the encoder wrote', () => {
  const r = rng(7);
  const W = 9;
  const H = 6;
  const chw = Uint8Array.from({ length: 3 * W * H }, () => Math.floor(r() * 256));
  assert.deepEqual(decodePngPlanes(encodePng(chw, W, H)).chw, chw);
  assert.throws(() => decodePngPlanes(Buffer.from('not a png')), /not a PNG/);
});

test('leaderboard rows: means over prompts; identical images are counted, not averaged as infinite PSNR', () => {
  const pr = (row: string, psnr: number | null, ssim: number): LeaderboardPromptRow => ({
    ...{ row, prompt: 'p', seed: 0, candidateRun: 'x', psnr, ssim, bitAgreement: 1 },
    ...{ kvHeldBytes: 10, kvPeakBytes: 20, kvHeldRatio: 0.1, kvPeakRatio: 0.2, ms: 5, timeRatio: 1 },
  });
  const plan = planRows({ policies: ['snapkv', 'h2o'], ratios: [0.1] } as unknown as EvaluateRequest);
  const [a, b] = plan.map((p) => p.key);
  const rows = aggregateRows(plan, [pr(a, 20, 0.5), pr(a, null, 1), pr(a, 30, 0.9), pr(b, null, 1)]);
  assert.equal(rows[0].psnr, 25);
  assert.equal(rows[0].identical, 1);
  assert.ok(Math.abs(rows[0].ssim - 2.4 / 3) < 1e-12);
  assert.equal(rows[1].psnr, null);
  assert.equal(formatPsnr(rows[0]), '25.00 (1/3 identical)');
  assert.equal(formatPsnr(rows[1]), '∞ (identical)');
});

test('notebook evaluate cells: defaults, a prompts file instead of prompts, and the same checks as the CLI', () => {
  const d = { resolution: '0.06M', ratio: 0.1, cfg: 3, tau: 1, policy: 'scalekv' as const };
  const a = parseCellSpec('{"action": "evaluate", "prompts": ["a red apple"]}', d);
  // the settings' sampling unless the cell names its own (the engine refuses a tau that is not positive)
  assert.deepEqual([a.cfg, a.tau], [3, 1]);
  const warm = parseCellSpec('{"action": "generate", "prompts": ["a red apple"], "cfg": 4, "tau": 0.5}', d);
  assert.deepEqual([warm.cfg, warm.tau], [4, 0.5]);
  assert.throws(() => parseCellSpec('{"action": "generate", "prompts": ["a"], "tau": "cold"}', d), /"tau" must be a number/);
  assert.deepEqual(a.evaluate, { ratios: [0.04, 0.1, 0.2], seeds: [0], promptsFile: undefined, ablation: false, budgetRules: [] });
  assert.deepEqual(
    a.policies,
    POLICY_NAMES.filter((n) => n !== 'full'),
  );
  const cell = {
    action: 'evaluate',
    promptsFile: 'p.txt',
    policies: ['snapkv'],
    ratios: [0.2],
    seeds: [1, 2],
    ablation: true,
    budgetRules: ['legacy'],
  };
  const b = parseCellSpec(JSON.stringify(cell), d);
  const want = { ratios: [0.2], seeds: [1, 2], promptsFile: 'p.txt', ablation: true, budgetRules: ['legacy'] };
  assert.deepEqual([b.prompts, b.policies, b.evaluate], [[], ['snapkv'], want]);
  assert.throws(() => parseCellSpec('{"action": "evaluate", "prompts": ["a"], "ratios": [0.1, 1.2]}', d), /within \(0, 1\]/);
  assert.throws(() => parseCellSpec('{"action": "evaluate", "prompts": ["a"], "policies": ["full"]}', d), /reference/);
  assert.throws(() => parseCellSpec('{"action": "evaluate", "prompts": ["a"], "budgetRules": ["paper"]}', d), /Unknown budget rule/);
  assert.throws(() => parseCellSpec('{"action": "evaluate"}', d), /at least one prompt/);
});
