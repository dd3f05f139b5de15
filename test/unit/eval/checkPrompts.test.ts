/**
 * The prompt check in CI: the default model must draw the first few held-out prompts in the right
 * colour and position (its floor), and the floor must mean something: the random tiny model falls below it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import test from 'node:test';
import { checkPrompts, readPromptList } from '../../../src/cli/checkPrompts';
import { embeddedModelDir } from '../../../src/engine/loadModel';
import { CI_PROMPTS, CI_RESOLUTION, DEFAULT_FLOOR, isRandomTinyModel, promptCheckFloor } from '../../../src/eval/floor';
import { type ScaleKVError } from '../../../src/shared/errors';
import { ctx, tempDir } from '../engine/helpers';

const FIXTURE = join(__dirname, '../../../../test/fixtures/dataset/heldout.json');
const DEFAULT_MODEL = embeddedModelDir();
/** make-tiny's random model, kept beside whatever the default model becomes */
const RANDOM_TINY = resolve(DEFAULT_MODEL, '..', 'tiny-infinity');

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

test('the default model draws the first held-out prompts in the right colour and position (its floor)', async (t) => {
  if (isRandomTinyModel(DEFAULT_MODEL)) {
    t.skip(
      `the default model (${DEFAULT_MODEL}) is the random tiny-infinity, which has no floor to meet; ` +
        'this runs once a trained model is the default',
    );
    return;
  }
  const floor = promptCheckFloor(DEFAULT_MODEL);
  const report = await score(DEFAULT_MODEL);
  assert.ok(report.shares.colourPosition >= floor, `colour+position ${report.shares.colourPosition} < floor ${floor}`);
});

test('the floor is meaningful: the random tiny model scores below it', async () => {
  assert.ok(isRandomTinyModel(RANDOM_TINY), `${RANDOM_TINY} should be make-tiny's random model`);
  const report = await score(RANDOM_TINY);
  assert.ok(report.shares.colourPosition < DEFAULT_FLOOR, `the random model reached ${report.shares.colourPosition}`);
  if (!isRandomTinyModel(DEFAULT_MODEL)) assert.ok(report.shares.colourPosition < promptCheckFloor(DEFAULT_MODEL));
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
