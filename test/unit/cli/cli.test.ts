/**
 * The built CLI (dist/cli.js) as a user runs it: --help on every command prints that command's help
 * and does nothing else; typos and over-long command lines are refused with exit 2 and a message (not
 * onnxruntime-node's segfault); prompts come from stdin with --prompts-file -; import-budget --model
 * reads the model's shape; an unusable --out fails before anything runs; and on a machine without a
 * Vulkan loader nothing but progress reaches stderr.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { COMMANDS } from '../../../src/cli/commandSpecs';
import { vulkanLoaderFound } from '../../../src/engine/runtime';
import { tempDir, TINY } from '../engine/helpers';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');

function cli(args: string[], o: { cwd?: string; input?: string } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: o.cwd ?? tempDir('cwd'),
    input: o.input,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

test('--help on every command prints its help and does nothing else', () => {
  for (const c of [...COMMANDS.map((x) => x.name)]) {
    const cwd = tempDir('help');
    const r = cli([c, '--help'], { cwd });
    assert.equal(r.status, 0, `${c}: ${r.stderr}`);
    assert.ok(r.stdout.startsWith(`scalekv ${c} `), `${c} prints its own usage`);
    assert.match(r.stdout, /--help {2,}print this help and do nothing else/);
    assert.equal(r.stderr, '', `${c} --help reports no progress`);
    assert.deepEqual(readdirSync(cwd), [], `${c} --help writes nothing`);
  }
  const overview = cli(['--help']);
  assert.equal(overview.status, 0);
  for (const c of COMMANDS) assert.ok(overview.stdout.includes(`  ${c.name} `), c.name);
});

test('typos are usage errors (exit 2) with a suggestion', () => {
  const r = cli(['generate', '--promt', 'a red apple']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /error E_USAGE: Unknown flag --promt for generate\. Did you mean --prompt\?/);
  const q = cli(['generate', '--resolution', 'constructor']);
  assert.equal(q.status, 2);
  assert.match(q.stderr, /--resolution must be one of/);
});

test('an over-long command line is refused with a message, not a segfault', () => {
  const r = cli(['generate', '--prompt', 'a'.repeat(30_000), '--resolution', '0.06M']);
  assert.equal(r.signal, null);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /command line is 29\.\d KB.*--prompts-file/);
});

test('an unusable --out fails at once with E_OUTPUT_PATH', () => {
  const cwd = tempDir('outfile');
  writeFileSync(join(cwd, 'runs'), 'not a folder');
  const r = cli(['generate', '--prompt', 'x', '--resolution', '0.06M', '--out', 'runs'], { cwd });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /error E_OUTPUT_PATH: The output folder .*runs is a file/);
  assert.doesNotMatch(r.stderr, /Scale 1\//, 'nothing was computed');
});

test('prompts from stdin (--prompts-file -) generate one image each; stderr holds only progress', () => {
  const cwd = tempDir('stdin');
  const r = cli(
    [
      'generate',
      '--model',
      TINY,
      '--prompts-file',
      '-',
      '--resolution',
      '0.06M',
      '--policy',
      'full',
      '--provider',
      'auto',
      '--out',
      'runs',
    ],
    {
      cwd,
      input: '# two prompts\na red apple\na lighthouse at dusk\n',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const runPath = r.stdout.trim().split('\n').at(-1)!;
  const run = JSON.parse(readFileSync(runPath, 'utf8'));
  assert.deepEqual(run.request.prompts, ['a red apple', 'a lighthouse at dusk']);
  assert.equal(run.images.length, 2);
  // progress, the engine's one line on the provider it chose and the run's notices (the tiny model's
  // tokenizer holds no whole words); no native library's warnings
  for (const line of r.stderr.trim().split('\n'))
    assert.match(line, /^(\[\s*\d+%\] |execution provider: |notice: )/, `unexpected stderr line: ${line}`);
  assert.doesNotMatch(r.stderr, /Couldn't load Vulkan|BackendVk|Warning:/);
  if (!vulkanLoaderFound()) assert.match(r.stdout, /webgpu: no Vulkan loader/, 'the fallback reason says why WebGPU was skipped');
  assert.deepEqual(readdirSync(join(cwd, 'runs')), [run.id], 'one complete run folder');
});

test('import-budget --model checks the table against the model and takes its name and shape', () => {
  const cwd = tempDir('import');
  const exp = cli(['export-budget', '--in', join(TINY, 'profile-1M-10pct.json'), '--out', 'tiny-official.json'], { cwd });
  assert.equal(exp.status, 0, exp.stderr);
  const imp = cli(['import-budget', '--in', 'tiny-official.json', '--out', 'tiny-profile.json', '--model', TINY, '--resolution', '1M'], {
    cwd,
  });
  assert.equal(imp.status, 0, imp.stderr);
  const p = JSON.parse(readFileSync(join(cwd, 'tiny-profile.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(join(TINY, 'manifest.json'), 'utf8'));
  assert.equal(p.model.name, manifest.name);
  assert.equal(p.model.depth, 8);
  // Infinity-2B's table (32 blocks) does not fit the 8-layer tiny model
  const wrong = cli(
    [
      'import-budget',
      '--in',
      join(ROOT, 'test', 'fixtures', 'scalekv', 'official-budgets', 'infinity-2b-10pct.json'),
      '--out',
      'x.json',
      '--model',
      TINY,
      '--resolution',
      '1M',
    ],
    { cwd },
  );
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /error E_BUDGET_INVALID: .*lists 32 blocks, but the model has 8 layers/);
  assert.ok(!existsSync(join(cwd, 'x.json')));
  const both = cli(['import-budget', '--in', 'tiny-official.json', '--out', 'y.json', '--model', TINY, '--depth', '8'], { cwd });
  assert.equal(both.status, 2);
  assert.match(both.stderr, /error E_USAGE: --depth comes from the model/);
});
