// Builds the extension host, the engine worker, the CLI and the webview bundles.
// Node targets keep onnxruntime-node and vscode external; webview bundles are self-contained ESM-free IIFEs.
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const production = process.argv.includes('--production');
// --out-root DIR writes dist/ and media/dist/ under DIR (vsix.mjs stages each package there), so a
// production build never leaves the development bundles' source maps beside minified code
const rootAt = process.argv.indexOf('--out-root');
const outRoot = rootAt > 0 ? process.argv[rootAt + 1] : '.';
const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning' };

const node = [
  ['src/extension/extension.ts', 'dist/extension.js'],
  ['src/engine/worker.ts', 'dist/worker.js'],
  ['src/cli/main.ts', 'dist/cli.js'],
  // worker_threads entry of `scalekv dataset` (src/dataset/writer.ts finds it beside cli.js)
  ['src/dataset/worker.ts', 'dist/datasetWorker.js'],
];
const web = [
  ['webview/visualizer/main.ts', 'media/dist/visualizer.js'],
  ['webview/sidebar/main.ts', 'media/dist/sidebar.js'],
];
const renderers = [['webview/renderers/index.ts', 'media/dist/renderer.js']];

const jobs = [];
for (const [entry, outfile] of node) {
  if (!existsSync(entry)) continue;
  jobs.push(
    esbuild.build({
      ...common,
      entryPoints: [entry],
      outfile: join(outRoot, outfile),
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: ['vscode', 'onnxruntime-node'],
    }),
  );
}
for (const [entry, outfile] of web) {
  if (!existsSync(entry)) continue;
  jobs.push(
    esbuild.build({
      ...common,
      entryPoints: [entry],
      outfile: join(outRoot, outfile),
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
    }),
  );
}
for (const [entry, outfile] of renderers) {
  // notebook renderers are loaded as ES modules by VS Code
  if (!existsSync(entry)) continue;
  jobs.push(
    esbuild.build({
      ...common,
      entryPoints: [entry],
      outfile: join(outRoot, outfile),
      platform: 'browser',
      target: 'es2022',
      format: 'esm',
      loader: { '.css': 'text' },
    }),
  );
}
await Promise.all(jobs);

// codicons for the webviews' VS Code Elements buttons: linked as media/dist/codicons/codicon.css, which loads its font beside it
const codicons = dirname(createRequire(import.meta.url).resolve('@vscode/codicons/dist/codicon.css'));
const codiconsOut = join(outRoot, 'media/dist/codicons');
mkdirSync(codiconsOut, { recursive: true });
for (const f of ['codicon.css', 'codicon.ttf']) copyFileSync(join(codicons, f), join(codiconsOut, f));
