/**
 * Imports flow one way: views -> extension host -> engine -> model -> checkpoint (design notes). Each
 * folder has a rank and may import only its own rank or below; the pure layers never load
 * onnxruntime-node or vscode, so they run in any process (CLI, tests, the dataset worker).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(__dirname, '../../../..');

/** higher imports lower; equal ranks may import each other */
const RANK: [folder: string, rank: number][] = [
  ['src/shared', 0],
  ['src/checkpoint', 1],
  ['src/model', 2],
  ['src/dataset', 2],
  ['kernels/onnx', 2],
  ['src/kvcache', 3],
  ['src/eval', 3],
  ['src/scalekv', 4],
  ['kernels/graphs', 4],
  ['src/engine', 5],
  // the browser code: the host's panels below embed its HTML templates
  ['webview', 6],
  ['src/notebook', 7],
  ['src/views', 7],
  ['src/cli', 8],
  ['src/extension', 8],
];
/** layers with no native runtime or editor dependency */
const PURE = ['src/shared', 'src/checkpoint', 'src/model', 'src/scalekv', 'src/dataset', 'src/eval', 'kernels/onnx'];

function rankOf(file: string): { folder: string; rank: number } | undefined {
  const hit = RANK.find(([f]) => file === f || file.startsWith(`${f}/`));
  return hit && { folder: hit[0], rank: hit[1] };
}

function sources(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (n.endsWith('.ts') && !n.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** every module specifier a file imports or re-exports (static and dynamic) */
export function importsOf(text: string): string[] {
  const re =
    /(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  return [...text.matchAll(re)].map((m) => m[1] ?? m[2] ?? m[3]);
}

function edges(): { from: string; to: string; spec: string }[] {
  const files = ['src', 'kernels', 'webview'].flatMap((d) => sources(join(ROOT, d)));
  return files.flatMap((f) => {
    const from = relative(ROOT, f);
    return importsOf(readFileSync(f, 'utf8')).map((spec) => ({
      from,
      spec,
      to: spec.startsWith('.') ? relative(ROOT, resolve(dirname(f), spec)) : spec,
    }));
  });
}

test('the import scanner sees static, type-only, side-effect and re-export imports', () => {
  const text = `import a from './a';\nimport type { B } from "../b";\nimport './c';\nexport { d } from './d';\nconst e = await import('./e');`;
  assert.deepEqual(importsOf(text), ['./a', '../b', './c', './d', './e']);
});

test('no module imports a higher layer', () => {
  const all = edges();
  // the scan must see the known downward edges, or an empty result would pass
  assert.ok(all.some((e) => e.from.startsWith('src/engine/') && e.to.startsWith('src/model/')));
  const upward = all.flatMap((e) => {
    const a = rankOf(e.from);
    const b = rankOf(e.to);
    return a && b && b.rank > a.rank ? [`${e.from} imports ${e.spec} (${a.folder} may not import ${b.folder})`] : [];
  });
  assert.deepEqual(upward, []);
});

test('the pure layers load neither onnxruntime-node nor vscode', () => {
  const bad = edges()
    .filter((e) => PURE.some((p) => e.from.startsWith(`${p}/`)) && /^(onnxruntime-node|onnxruntime-common|vscode)$/.test(e.spec))
    .map((e) => `${e.from} imports ${e.spec}`);
  assert.deepEqual(bad, []);
});
