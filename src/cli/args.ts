/**
 * Strict --flag parsing for the CLI against each command's declared flags (src/cli/commandSpecs.ts):
 * an unknown flag, a flag without its value, a repeated single flag or a value outside a flag's
 * choices is a usage error (E_USAGE) that names the flag and suggests the nearest known one.
 */
import { ScaleKVError } from '../shared/errors';

export type FlagKind = 'text' | 'number' | 'integer' | 'boolean';

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  /** what the help shows as the value, e.g. FILE */
  value?: string;
  repeat?: boolean;
  choices?: readonly string[];
  help: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: FlagSpec[];
  /** paragraphs after the flags: defaults, decisions, examples */
  notes?: string;
}

export interface ParsedArgs {
  command: string;
  flags: Map<string, string[]>;
  /** --help or -h was given: print the command's help and do nothing else */
  help: boolean;
}

const usage = (message: string) => new ScaleKVError('E_USAGE', message);

/** edit distance, for "did you mean" (names are short, so the quadratic table is fine) */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** the closest candidate within a third of the word's length (at least 2 edits), or a prefix match */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestD) {
      best = c;
      bestD = dist;
    }
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3))) return best;
  return candidates.find((c) => word.length >= 3 && c.startsWith(word));
}

const didYouMean = (s: string | undefined, prefix = '') => (s ? ` Did you mean ${prefix}${s}?` : '');

export function parseArgs(argv: string[], commands: readonly CommandSpec[]): ParsedArgs {
  const [first = 'help', ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    return { command: 'help', flags: new Map(rest[0] && !rest[0].startsWith('-') ? [['topic', [rest[0]]]] : []), help: true };
  }
  const spec = commands.find((c) => c.name === first);
  if (!spec) {
    const what = first.startsWith('-')
      ? `a command before the flags, e.g. scalekv generate ${first}`
      : `one of: ${commands.map((c) => c.name).join(', ')}`;
    throw usage(
      `Unknown command '${first}'.${didYouMean(
        nearest(
          first,
          commands.map((c) => c.name),
        ),
      )} Use ${what}. Run scalekv --help for the list.`,
    );
  }
  // help wins over everything else on the line, so a typo beside it does not hide the help
  if (rest.some((a) => a === '--help' || a === '-h')) return { command: spec.name, flags: new Map(), help: true };
  const names = spec.flags.map((f) => f.name);
  const flags = new Map<string, string[]>();
  let prev: FlagSpec | undefined; // the flag just read, for the hint on a stray word after its value
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--') || a === '--') {
      const hint =
        prev && prev.kind !== 'boolean'
          ? ` --${prev.name} takes one value; quote a value with spaces ("...")`
          : ' Flags look like --name value';
      throw usage(`Unexpected argument '${a}' for ${spec.name}.${hint}. See scalekv ${spec.name} --help.`);
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const f = spec.flags.find((x) => x.name === name);
    if (!f)
      throw usage(`Unknown flag --${name} for ${spec.name}.${didYouMean(nearest(name, names), '--')} See scalekv ${spec.name} --help.`);
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else if (f.kind === 'boolean') value = 'true';
    else if (i + 1 < rest.length && !rest[i + 1].startsWith('--')) value = rest[++i];
    else {
      const next = rest[i + 1];
      const why = next === undefined ? 'nothing follows it' : `${next} follows it`;
      throw usage(
        `--${name} needs a value (${f.value ?? f.kind.toUpperCase()}), but ${why}. A value that starts with -- is written --${name}=VALUE.`,
      );
    }
    if (flags.has(name) && !f.repeat) throw usage(`--${name} is given twice; it takes one value.`);
    flags.set(name, [...(flags.get(name) ?? []), check(f, value)]);
    prev = f;
  }
  return { command: spec.name, flags, help: false };
}

function check(f: FlagSpec, value: string): string {
  if (f.kind === 'boolean') {
    if (value !== 'true' && value !== 'false')
      throw usage(`--${f.name} is a switch: give it alone, or as --${f.name}=true / --${f.name}=false, not '${value}'.`);
    return value;
  }
  if (f.kind === 'number' || f.kind === 'integer') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw usage(`--${f.name} must be a number, got '${value}'.`);
    if (f.kind === 'integer' && !Number.isInteger(n)) throw usage(`--${f.name} must be a whole number, got '${value}'.`);
  }
  if (f.choices && !f.choices.includes(value)) {
    throw usage(`--${f.name} must be one of ${f.choices.join(', ')}, not '${value}'.${didYouMean(nearest(value, f.choices))}`);
  }
  if (f.kind === 'text' && value === '') throw usage(`--${f.name} needs a non-empty value.`);
  return value;
}

export function str(a: ParsedArgs, name: string, def?: string): string | undefined {
  return a.flags.get(name)?.at(-1) ?? def;
}

export function num(a: ParsedArgs, name: string, def: number): number {
  const v = str(a, name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n)) throw usage(`--${name} must be a number, got '${v}'.`);
  return n;
}

export function list(a: ParsedArgs, name: string): string[] {
  return a.flags.get(name) ?? [];
}

export function flag(a: ParsedArgs, name: string): boolean {
  return str(a, name) === 'true';
}

export function has(a: ParsedArgs, name: string): boolean {
  return a.flags.has(name);
}

/** one command's help: usage, its flags with their values and choices, then its notes */
export function formatHelp(spec: CommandSpec): string {
  const left = (f: FlagSpec) =>
    `--${f.name}${f.kind === 'boolean' ? '' : ` ${f.value ?? (f.kind === 'text' ? 'TEXT' : 'N')}`}${f.repeat ? ' ...' : ''}`;
  const width = Math.max(...spec.flags.map((f) => left(f).length), 10) + 2;
  const lines = [`scalekv ${spec.usage}`, '', spec.summary, '', 'Flags:'];
  for (const f of spec.flags) lines.push(`  ${left(f).padEnd(width)}${f.help}${f.choices ? ` [${f.choices.join('|')}]` : ''}`);
  lines.push(`  ${'--help'.padEnd(width)}print this help and do nothing else`);
  if (spec.notes) lines.push('', spec.notes.trim());
  return lines.join('\n') + '\n';
}

export function formatOverview(commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'scalekv <command> [flags]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    "scalekv <command> --help prints a command's flags and defaults.",
    '',
  ].join('\n');
}
