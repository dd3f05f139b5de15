/**
 * The prompt check in CI: the default model must draw the first few held-out prompts in the right
 * colour and position (its floor), and the floor must mean something: the random tiny model falls below it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import test from 'node:test';
import { checkPrompts, readPromptList } from '../../../src/cli/checkPrompts';
import { embeddedModelDir, tinyModelDir } from '../../../src/engine/loadModel';
import { CI_PROMPTS, CI_RESOLUTION, DEFAULT_FLOOR, isRandomTinyModel, promptCheckFloor } from '../../../src/eval/floor';
import { type ScaleKVError } from '../../../src/shared/errors';
import { ctx, tempDir } from '../engine/helpers';

const FIXTURE = join(__dirname, '../../../../test/fixtures/dataset/heldout.json');
const DEFAULT_MODEL = embeddedModelDir();
/** make-tiny's random model, beside the trained default */
const RANDOM_TINY = tinyModelDir();

async function score(modelDir: string) {
  const out = tempDir('check');
  const prompts = readPromptList(FIXTURE).slice(0, CI_PROMPTS);
  const r = await checkPrompts(
    { prompts, out, modelPath: modelDir, policy: { name: 'full' }, resolution: CI_RESOLUTION, seed: 0, provider: 'cpu' },
    ctx(),
  );
  assert.equal(r.report.count, CI_PROMPTS);
  assert.deepEqual(
    r.report.items.map((i) => i.prompt),
    prompts,
  );
  assert.ok(existsSync(join(out, r.report.items[0].image)));
  assert.deepEqual(JSON.parse(readFileSync(r.jsonPath, 'utf8')).shares, r.report.shares);
  assert.match(readFileSync(r.mdPath, 'utf8'), /\| colour \| colour \+ position \| colour \+ position \+ shape \|/);
  return r.report;
}

test('the default model draws the first held-out prompts in the right colour and position (its floor)', async () => {
  assert.ok(!isRandomTinyModel(DEFAULT_MODEL), `${DEFAULT_MODEL} should be the trained default`);
  const declared = JSON.parse(readFileSync(join(DEFAULT_MODEL, 'manifest.json'), 'utf8')).promptCheckFloor;
  assert.equal(typeof declared, 'number', "the default model's manifest declares the floor it meets");
  const floor = promptCheckFloor(DEFAULT_MODEL);
  assert.ok(floor > 0, 'a floor of 0 would pass any model');
  const report = await score(DEFAULT_MODEL);
  assert.ok(report.shares.colourPosition >= floor, `colour+position ${report.shares.colourPosition} < floor ${floor}`);
});

test('the floor is meaningful: the random tiny model scores below it', async () => {
  assert.ok(isRandomTinyModel(RANDOM_TINY), `${RANDOM_TINY} should be make-tiny's random model`);
  const report = await score(RANDOM_TINY);
  assert.ok(report.shares.colourPosition < DEFAULT_FLOOR, `the random model reached ${report.shares.colourPosition}`);
  assert.ok(report.shares.colourPosition < promptCheckFloor(DEFAULT_MODEL), `the random model reached the default model's floor`);
});

test('bad input: a prompts file that is missing, malformed, or has a prompt the checker cannot read fails before generating', async () => {
  const dir = tempDir('check-bad');
  const f = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
  const invalid = (e: ScaleKVError) => e.code === 'E_INVALID_REQUEST';
  assert.throws(() => readPromptList(join(dir, 'none.json')), invalid);
  assert.throws(() => readPromptList(f('bad.json', '{"prompts": 3')), invalid);
  assert.throws(() => readPromptList(f('empty.json', '{"prompts": []}')), invalid);
  assert.deepEqual(readPromptList(f('p.txt', '# held out\na red circle at the top\n')), ['a red circle at the top']);
  await assert.rejects(
    checkPrompts(
      {
        prompts: ['a red circle', 'a lighthouse'],
        out: dir,
        modelPath: join(dir, 'no-model'),
        policy: { name: 'full' },
        resolution: CI_RESOLUTION,
        seed: 0,
        provider: 'cpu',
      },
      ctx(),
    ),
    (e: ScaleKVError) => invalid(e) && /a lighthouse/.test(e.message),
  );
  assert.ok(!existsSync(join(dir, 'runs')));
});

test('the sampling flags reach the generation and are recorded in the report', async () => {
  const out = tempDir('check-sampling');
  const r = await checkPrompts(
    {
      prompts: ['a small red circle at the top left on a white background'],
      out,
      modelPath: RANDOM_TINY,
      policy: { name: 'full' },
      resolution: '0.06M',
      seed: 3,
      provider: 'cpu',
      sampling: { cfg: 1.5, topK: 2 },
    },
    ctx(),
  );
  assert.deepEqual(r.report.sampling, { cfg: 1.5, tau: 1, topK: 2, topP: 0.97 });
  const runJson = join(out, dirname(r.report.items[0].image), 'run.json');
  const req = JSON.parse(readFileSync(runJson, 'utf8')).request;
  assert.deepEqual([req.cfg, req.tau, req.topK, req.topP, req.seed], [1.5, 1, 2, 0.97, 3]);
  assert.match(readFileSync(r.mdPath, 'utf8'), /seed 3, cfg 1\.5, tau 1, top-k 2, top-p 0\.97\./);
});
