/**
 * The CLI parser is strict and says what to do: unknown flags and commands get a "did you mean",
 * a flag without its value is named, enumerated values are checked, a single flag given twice and
 * stray words are refused, --help wins over everything; the policy choice around --profile; the argv
 * length guard; the progress printer names what runs and throttles a log by phase and time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nearest, parseArgs, type ParsedArgs } from '../../../src/cli/args';
import { argvBytes, checkArgvLength, ORT_ARGV_CRASH_BYTES } from '../../../src/cli/argvLimit';
import { COMMANDS } from '../../../src/cli/commandSpecs';
import { comparePolicyNames, generatePolicyName } from '../../../src/cli/policyChoice';
import { progressPrinter } from '../../../src/cli/progressPrinter';
import { parsePromptLines } from '../../../src/cli/prompts';
import type { ScaleKVError } from '../../../src/shared/errors';
import type { Progress } from '../../../src/shared/types';

const parse = (...argv: string[]) => parseArgs(argv, COMMANDS);
const usage = (re: RegExp) => (e: ScaleKVError) => e.code === 'E_USAGE' && re.test(e.message);

test('unknown flags and commands suggest the nearest one', () => {
  assert.throws(() => parse('generate', '--promt', 'x'), usage(/Unknown flag --promt for generate\. Did you mean --prompt\?/));
  assert.throws(() => parse('generate', '--qeury-mode', 'code'), usage(/Did you mean --query-mode\?/));
  assert.throws(() => parse('gnerate'), usage(/Unknown command 'gnerate'\. Did you mean generate\?/));
  assert.throws(() => parse('--prompt', 'x'), usage(/a command before the flags/));
  // a flag of another command is unknown here
  assert.throws(() => parse('describe', '--prompt', 'x'), usage(/Unknown flag --prompt for describe/));
  assert.equal(nearest('zzzzzz', ['prompt', 'out']), undefined, 'no suggestion when nothing is close');
});

test('a flag without its value is an error that names it', () => {
  assert.throws(() => parse('generate', '--prompt', '--x'), usage(/--prompt needs a value .* --x follows it.*--prompt=VALUE/));
  assert.throws(() => parse('generate', '--out'), usage(/--out needs a value \(DIR\), but nothing follows it/));
  // the = form takes a value that starts with --
  assert.deepEqual(parse('generate', '--prompt=--x').flags.get('prompt'), ['--x']);
});

test('enumerated and numeric values are checked', () => {
  assert.throws(
    () => parse('generate', '--query-mode', 'papr'),
    usage(/--query-mode must be one of code, paper, not 'papr'\. Did you mean paper\?/),
  );
  assert.throws(() => parse('generate', '--resolution', 'constructor'), usage(/--resolution must be one of 0\.06M, 0\.25M, 0\.60M, 1M/));
  assert.throws(() => parse('generate', '--provider', 'gpu'), usage(/--provider must be one of auto, cuda, webgpu, cpu/));
  assert.throws(() => parse('generate', '--policy', 'scalkv'), usage(/Did you mean scalekv\?/));
  assert.throws(() => parse('bench', '--provider', 'auto'), usage(/--provider must be one of cuda, webgpu, cpu/));
  assert.throws(() => parse('generate', '--seed', '1.5'), usage(/--seed must be a whole number/));
  assert.throws(() => parse('generate', '--cfg', 'high'), usage(/--cfg must be a number/));
  assert.throws(() => parse('make-tiny', '--if-missing=yes'), usage(/is a switch/));
  assert.equal(parse('make-tiny', '--out', 'd', '--if-missing').flags.get('if-missing')?.[0], 'true');
});

test('a single flag twice and stray words are refused; repeatable flags collect', () => {
  assert.throws(() => parse('generate', '--out', 'a', '--out', 'b'), usage(/--out is given twice/));
  assert.throws(
    () => parse('generate', '--prompt', 'a', 'red', 'apple'),
    usage(/Unexpected argument 'red'.*--prompt takes one value; quote/),
  );
  assert.deepEqual(parse('generate', '--prompt', 'a', '--prompt', 'b').flags.get('prompt'), ['a', 'b']);
  assert.deepEqual(parse('compare', '--policy', 'scalekv', '--policy', 'h2o').flags.get('policy'), ['scalekv', 'h2o']);
});

test('--help wins: with a typo beside it, before or after the command', () => {
  for (const c of COMMANDS) {
    const a = parse(c.name, '--promt', '--help');
    assert.equal(a.help, true, c.name);
    assert.equal(a.command, c.name);
  }
  assert.equal(parse('help', 'generate').flags.get('topic')?.[0], 'generate');
  assert.equal(parse('-h').help, true);
});

const args = (flags: Record<string, string>): ParsedArgs => ({
  command: 'generate',
  help: false,
  flags: new Map(Object.entries(flags).map(([k, v]) => [k, [v]])),
});

test('--profile switches the default policy to scalekv and is refused by a policy that cannot read it', () => {
  assert.equal(generatePolicyName(args({})), 'scalekv');
  assert.equal(generatePolicyName(args({ profile: 'p.json' })), 'scalekv');
  assert.equal(generatePolicyName(args({ profile: 'p.json', policy: 'amskv' })), 'amskv');
  assert.throws(
    () => generatePolicyName(args({ profile: 'p.json', policy: 'snapkv' })),
    usage(/--profile is read only by --policy scalekv or amskv or hack or heatkv; --policy snapkv does not/),
  );
  assert.throws(() => comparePolicyNames(args({ profile: 'p.json', policy: 'h2o' })), usage(/none of the compared policies \(h2o\)/));
  assert.ok(!comparePolicyNames(args({})).includes('full'), 'the full cache is the reference, not a candidate');
});

test('argv past the limit is refused with a pointer to --prompts-file; the limit is well below the crash', () => {
  const long = ['node', 'cli.js', 'generate', '--prompt', 'x'.repeat(20_000)];
  assert.ok(argvBytes(long) > 20_000);
  assert.throws(
    () => checkArgvLength(long),
    usage(/19\.6 KB.*at most 16 KB.*onnxruntime-node crashes past about 29\.0 KB.*--prompts-file FILE.*--prompts-file -/),
  );
  checkArgvLength(['node', 'cli.js', 'generate', '--prompt', 'x'.repeat(10_000)]);
  assert.ok(16 * 1024 < ORT_ARGV_CRASH_BYTES * 0.6);
  // bytes, not characters: multi-byte prompts count as what the kernel passes
  assert.equal(argvBytes(['é']), 3);
});

test('prompt files: one per line, comments and blanks skipped, none at all is an error', () => {
  assert.deepEqual(parsePromptLines('# calibration\na red apple\r\n\n  a lighthouse  \n', 'f'), ['a red apple', 'a lighthouse']);
  assert.throws(
    () => parsePromptLines('# only a comment\n\n', 'f.txt'),
    (e: ScaleKVError) => e.code === 'E_INVALID_REQUEST' && /f\.txt has no prompts/.test(e.message),
  );
});

function scaleEvent(si: number, l: number, prompt?: number): Progress {
  const msg = `Scale ${si + 1}/13 (${si + 1}x${si + 1}), layer ${l + 1}/8`;
  return {
    stage: prompt === undefined ? 'scale' : 'calibrate',
    scaleIndex: si,
    prompt,
    fraction: (si + l / 8) / 13,
    message: prompt === undefined ? msg : `Prompt ${prompt + 1}/10: ${msg}`,
  };
}

test('progress in a log: a line per new scale or prompt, and the running layer at most every interval', () => {
  let t = 0;
  const lines: string[] = [];
  const p = progressPrinter({ write: (s) => lines.push(s), tty: false, intervalMs: 5000, minGapMs: 1000, now: () => t });
  for (let l = 0; l < 8; l++) p(scaleEvent(0, l));
  assert.deepEqual(lines, ['[  0%] Scale 1/13 (1x1), layer 1/8\n'], 'one line for a fast scale');
  // scales that pass within a second of the last line are not printed
  t += 200;
  p(scaleEvent(1, 0));
  assert.equal(lines.length, 1);
  // a slow scale: the layers advance, and after the interval the running layer is printed
  t += 1000;
  p(scaleEvent(12, 0));
  t += 6000;
  p(scaleEvent(12, 3));
  t += 1000;
  p(scaleEvent(12, 4));
  assert.deepEqual(
    lines.slice(1).map((l) => l.replace(/^\[\s*\d+%\] /, '').trim()),
    ['Scale 13/13 (13x13), layer 1/8', 'Scale 13/13 (13x13), layer 4/8'],
  );
  // calibration: a new prompt is a new phase even on the same scale and layer
  lines.length = 0;
  t += 1000;
  p(scaleEvent(0, 0, 0));
  t += 1000;
  p(scaleEvent(0, 0, 1));
  assert.equal(lines.length, 2);
  assert.match(lines[1], /Prompt 2\/10: Scale 1\/13 \(1x1\), layer 1\/8/);
});

test('progress on a terminal rewrites one line per phase in place', () => {
  const out: string[] = [];
  const p = progressPrinter({ write: (s) => out.push(s), tty: true });
  p(scaleEvent(0, 0));
  p(scaleEvent(0, 1));
  p(scaleEvent(1, 0));
  p.done();
  assert.equal(out.join('').split('\n').length - 1, 2, 'two finished lines: scale 1 and scale 2');
  // the printer rewrites its line with ESC[K (erase to end of line)
  // eslint-disable-next-line no-control-regex
  assert.match(out.join(''), /\r\x1b\[K\[\s*\d+%\] Scale 1\/13 \(1x1\), layer 2\/8\n/);
});
