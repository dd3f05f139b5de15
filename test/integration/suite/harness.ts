/**
 * A small sequential test harness for code that runs inside VS Code's extension host, where node:test's
 * runner and its reporters are not available. Cases run in order (they share one window) and a failed
 * case does not stop the rest.
 */
import type { CaseResult } from '../protocol';

type Case = { name: string; fn: () => Promise<void> | void };
const cases: Case[] = [];

export function test(name: string, fn: () => Promise<void> | void): void {
  cases.push({ name, fn });
}

export async function runCases(log: (line: string) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of cases) {
    const t0 = Date.now();
    try {
      await c.fn();
      results.push({ name: c.name, ok: true, ms: Date.now() - t0 });
      log(`ok   ${c.name} (${Date.now() - t0} ms)`);
    } catch (e) {
      const err = e as Error;
      results.push({ name: c.name, ok: false, ms: Date.now() - t0, error: err?.stack ?? String(e) });
      log(`FAIL ${c.name}: ${err?.message ?? e}`);
    }
  }
  return results;
}

/** polls until check() returns a value other than undefined, or fails after timeoutMs */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
