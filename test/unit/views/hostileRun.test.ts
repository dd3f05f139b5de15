/**
 * The visualizer host reads a run's files only from inside the folder of its run.json, and webviews
 * can ask the host to run only ScaleKV's own commands (the ids package.json contributes).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { COMMAND_IDS } from '../../../src/shared/commandIds';
import type { RunRecord } from '../../../src/shared/types';
import { readRetentionSlice } from '../../../src/views/retentionReader';
import { readRunImages, readRunRecord } from '../../../src/views/runFolder';
import { checkWebviewCommand } from '../../../src/views/webviewCommand';
import { tempDir } from '../engine/helpers';

const ROOT = resolve(__dirname, '..', '..', '..', '..');

/** a run folder inside `base`, whose run.json the test fills in, next to a "secret" outside it */
function runFolder(images: unknown[], retention?: unknown): { base: string; dir: string; runPath: string; secret: string } {
  const base = tempDir('hostile-run');
  const dir = join(base, 'runs', 'r1');
  mkdirSync(dir, { recursive: true });
  const secret = join(base, 'secret.txt');
  writeFileSync(secret, 'PRIVATE KEY');
  writeFileSync(join(dir, 'image-0.png'), Buffer.from('png bytes'));
  const run = { format: 'scalekv-run', version: 1, id: 'r1', images, retention };
  const runPath = join(dir, 'run.json');
  writeFileSync(runPath, JSON.stringify(run));
  return { base, dir, runPath, secret };
}

test('images named outside the run folder are refused with a reason; inside ones are read', () => {
  const f = runFolder([]);
  symlinkSync(f.secret, join(f.dir, 'linked.png'));
  const names = ['image-0.png', '../../secret.txt', f.secret, 'linked.png', 'missing.png', 42];
  writeFileSync(
    f.runPath,
    JSON.stringify({ format: 'scalekv-run', id: 'r1', images: names.map((path) => ({ path, prompt: String(path) })) }),
  );
  const run = readRunRecord(f.runPath);
  const { images, problems } = readRunImages(f.runPath, run);
  assert.deepEqual(
    images.map((i) => i.prompt),
    ['image-0.png'],
    'only the image inside the folder is read; the missing one is skipped',
  );
  assert.equal(images[0].dataUri, `data:image/png;base64,${Buffer.from('png bytes').toString('base64')}`);
  for (const i of images)
    assert.ok(!Buffer.from(i.dataUri.split(',')[1], 'base64').toString().includes('PRIVATE'), 'no secret in the webview');
  assert.equal(problems.length, 4);
  assert.match(problems[0], /names the image '\.\.\/\.\.\/secret\.txt', which points outside the folder/);
  assert.match(problems[1], /which is an absolute path/);
  assert.match(problems[2], /'linked\.png', which is a link to .*secret\.txt, outside the folder/);
  assert.match(problems[3], /names the image 42, which is not a file name/);
});

test('a run.json that is not a run, or a FIFO, is refused without blocking', { skip: process.platform === 'win32' && 'no FIFOs' }, () => {
  const f = runFolder([]);
  writeFileSync(f.runPath, JSON.stringify({ hello: 1 }));
  assert.throws(() => readRunRecord(f.runPath), /is not a ScaleKV run record/);
  const fifo = join(f.dir, 'fifo.json');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  assert.throws(() => readRunRecord(fifo), /is a named pipe \(FIFO\), not a run record/);
  writeFileSync(f.runPath, JSON.stringify({ format: 'scalekv-run', id: 'r1', images: [{ path: 'p.png', prompt: 'x' }] }));
  assert.equal(spawnSync('mkfifo', [join(f.dir, 'p.png')]).status, 0);
  const { images, problems } = readRunImages(f.runPath, readRunRecord(f.runPath));
  assert.equal(images.length, 0);
  assert.match(problems[0], /p\.png is a named pipe/);
});

test('the retention record must lie in the run folder, and a hostile count is refused before allocating', () => {
  const entries = [{ layer: 0, scaleIndex: 0, offset: 0, count: 2 ** 40, cacheLen: 4 }];
  const f = runFolder([], { file: '../../secret.txt', batchRows: 1, heads: 1, entries });
  const sel = { layer: 0, scaleIndex: 0, head: 0, row: 0 };
  const run = JSON.parse(readFileSync(f.runPath, 'utf8')) as RunRecord;
  assert.throws(
    () => readRetentionSlice(f.dir, run, sel),
    /names the retention record '\.\.\/\.\.\/secret\.txt', which points outside the folder/,
  );
  writeFileSync(join(f.dir, 'retention.bin'), Buffer.from(Int32Array.from([3, 1, 0, 2]).buffer));
  run.retention!.file = 'retention.bin';
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(() => readRetentionSlice(f.dir, run, sel), /retention\.bin is shorter than its index says \(4398046511104 > 16 bytes\)/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20, 'nothing large was allocated');
  run.retention!.entries[0].count = 2;
  assert.deepEqual(readRetentionSlice(f.dir, run, sel).kept, [3, 1]);
  run.retention!.entries[0].count = -1;
  assert.throws(() => readRetentionSlice(f.dir, run, sel), /retention entry \(layer 0, scale 0\) is malformed/);
});

test('webviews may run only the commands package.json contributes, with plain arguments', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.deepEqual([...COMMAND_IDS].sort(), pkg.contributes.commands.map((c: { command: string }) => c.command).sort());
  for (const id of COMMAND_IDS) assert.deepEqual(checkWebviewCommand(id), { id, args: [] });
  assert.deepEqual(checkWebviewCommand('scalekv.openRun', ['/x/run.json']), { id: 'scalekv.openRun', args: ['/x/run.json'] });
  for (const bad of [
    'workbench.action.terminal.new',
    'workbench.extensions.installExtension',
    'vscode.open',
    'scalekv.',
    'scalekv.generate ',
    undefined,
    7,
    { id: 'scalekv.generate' },
  ]) {
    const r = checkWebviewCommand(bad);
    assert.ok('refused' in r, `${JSON.stringify(bad)} was allowed`);
    assert.match(r.refused, /not one of ScaleKV's own; it was not run/);
  }
  for (const args of ['a', [{ toString: 1 }], [[1]], Array(10).fill('x')]) {
    const r = checkWebviewCommand('scalekv.openRun', args);
    assert.ok('refused' in r && /arguments that are not a short list of plain values/.test(r.refused), JSON.stringify(args));
  }
});
