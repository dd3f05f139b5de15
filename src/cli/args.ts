/** Minimal --flag value parsing for the CLI (repeatable flags collect into arrays). */
export interface ParsedArgs {
  command: string;
  flags: Map<string, string[]>;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const [command = 'help', ...rest] = argv;
  const flags = new Map<string, string[]>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) throw new Error(`Unexpected argument '${a}'. Flags look like --name value.`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else if (i + 1 < rest.length && !rest[i + 1].startsWith('--')) value = rest[++i];
    else value = 'true';
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return { command, flags };
}

export function str(a: ParsedArgs, name: string, def?: string): string | undefined {
  return a.flags.get(name)?.at(-1) ?? def;
}

export function num(a: ParsedArgs, name: string, def: number): number {
  const v = str(a, name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got '${v}'.`);
  return n;
}

export function list(a: ParsedArgs, name: string): string[] {
  return a.flags.get(name) ?? [];
}
