/**
 * The path a user takes: build the linux-x64 .vsix (`node vsix.mjs --target linux-x64`, what
 * `npm run package` runs per target), check what it carries, install it into the test VS Code with
 * code-server's --install-extension, and run VS Code with no development copy of ScaleKV. A probe
 * extension's suite (vsix/suite.ts) then drives the installed extension: Generate on the embedded
 * model, the visualizer, the example notebook. The driver checks the sidebar and the visualizer on screen
 * and takes screenshots (.tmp/screenshots/vsix-*.png).
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { test } from 'node:test';
import { FileRange } from '../../src/checkpoint/fileRange';
import { readEntry, readZipDirectory } from '../../src/checkpoint/zip';
import { cudaSource } from '../../src/engine/cudaProvider';
import { fakeCudaPackage, startFakeFeed } from '../unit/engine/fakeNugetFeed';
import { tempDir } from '../unit/engine/helpers';
import { REPORT_FILE, UI_DONE_FILE, type SuiteReport, type VsixScenario } from './protocol';
import { waitFor } from './suite/harness';
import { codeServerInstalled, frameWith, installVsix, openWorkbench, ROOT } from './workbench';

const SHOTS = join(ROOT, '.tmp', 'screenshots');
const ORT_BIN = 'extension/node_modules/onnxruntime-node/bin/napi-v6/';

const fakeBody = () => fakeCudaPackage(cudaSource(join(ROOT, 'node_modules', 'onnxruntime-node'), 'linux', 'x64')).body;

/** the relative requires of a CommonJS file (what must travel with it) */
function relativeRequires(js: string): string[] {
  return [...js.matchAll(/require\(["'](\.{1,2}\/[^"'`]+)["']\)/g)].map((m) => m[1]);
}

test(
  'the linux-x64 .vsix installs into VS Code and runs there: Generate, the visualizer, the example notebook',
  { timeout: 1_500_000 },
  async (t) => {
    const installed = codeServerInstalled();
    assert.ok(installed, 'VS Code (code-server) is not installed: run node test/integration/installVsCode.mjs (npm test does)');
    const work = tempDir('vsix');
    const ws = join(work, 'workspace');
    const state = join(work, 'state');
    mkdirSync(ws, { recursive: true });
    try {
      // 1. package, as npm run package does for this target
      const t0 = Date.now();
      execFileSync(process.execPath, [join(ROOT, 'vsix.mjs'), '--target', 'linux-x64', '--out', join(work, 'vsix')], {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'inherit'],
        timeout: 300_000,
      });
      const summary = JSON.parse(readFileSync(join(work, 'vsix', 'packages.json'), 'utf8')) as {
        packages: { target: string; file: string; bytes: number }[];
      };
      const vsix = join(ROOT, summary.packages[0].file);
      const made = summary.packages[0];
      t.diagnostic(`packaged ${made.file}: ${(made.bytes / 2 ** 20).toFixed(1)} MiB in ${Math.round((Date.now() - t0) / 1000)} s`);

      await t.test('the package carries what runs, for linux-x64 only, without source maps', () => {
        const f = new FileRange(vsix);
        try {
          const dir = readZipDirectory(f);
          const names = [...dir.keys()];
          const text = (n: string) => new TextDecoder().decode(readEntry(f, dir.get(n)!));
          assert.match(text('extension.vsixmanifest'), /TargetPlatform="linux-x64"/);
          for (const n of [
            'package.json',
            'LICENSE.txt',
            'dist/extension.js',
            'dist/worker.js',
            'media/dist/visualizer.js',
            'media/dist/sidebar.js',
            'media/dist/renderer.js',
            'examples/scalekv-demo.ipynb',
          ]) {
            assert.ok(dir.has(`extension/${n}`), `extension/${n}`);
          }
          // the trained default with its committed profiles, and the random tiny model
          const shapes = [
            'manifest.json',
            'infinity_shapes.pth',
            'infinity_vae_shapes.pth',
            'flan-t5-shapes/tokenizer.json',
            'profile-0.25M-10pct.json',
          ];
          for (const m of shapes) assert.ok(names.includes(`extension/media/models/infinity-shapes/${m}`), `the default model's ${m}`);
          for (const m of ['manifest.json', 'infinity_tiny.pth', 'infinity_vae_tiny.pth'])
            assert.ok(names.includes(`extension/media/models/tiny-infinity/${m}`), `the tiny model's ${m}`);
          assert.deepEqual(
            names.filter((n) => n.endsWith('.map')),
            [],
            'no source maps',
          );
          assert.doesNotMatch(text('extension/dist/worker.js'), /sourceMappingURL/);
          const modules = new Set(names.filter((n) => n.startsWith('extension/node_modules/')).map((n) => n.split('/')[2]));
          assert.deepEqual([...modules].sort(), ['onnxruntime-common', 'onnxruntime-node']);
          const bins = names.filter((n) => n.startsWith(ORT_BIN)).map((n) => n.slice(ORT_BIN.length));
          assert.deepEqual(bins.sort(), ['linux/x64/libonnxruntime.so.1', 'linux/x64/onnxruntime_binding.node']);
          // every file onnxruntime-node and -common require at run time is there
          const jsFiles = names.filter((n) => /^extension\/node_modules\/onnxruntime-(node\/dist|common\/dist\/cjs)\/[^/]+\.js$/.test(n));
          assert.ok(jsFiles.length > 10);
          for (const js of jsFiles) {
            for (const r of relativeRequires(text(js))) {
              const target = posix.normalize(posix.join(posix.dirname(js), r));
              assert.ok(dir.has(target) || dir.has(`${target}.js`), `${js} requires ${r}`);
            }
          }
          assert.ok(dir.has('extension/node_modules/onnxruntime-common/dist/cjs/package.json'), 'marks dist/cjs as CommonJS');
          assert.ok(dir.has('extension/node_modules/onnxruntime-node/script/install-metadata.js'), 'Install CUDA Provider reads it');
        } finally {
          f.close();
        }
      });

      // 2. install it as a user would, and start VS Code without a development copy of ScaleKV
      const installedPath = installVsix(installed, state, vsix, 'scalekv.scalekv-vscode');
      t.diagnostic(`installed into ${installedPath}`);
      const scenario: VsixScenario = { installedPath, notebook: join(ws, 'scalekv-demo.ipynb') };
      copyFileSync(join(ROOT, 'examples', 'scalekv-demo.ipynb'), scenario.notebook);
      writeFileSync(join(ws, 'scenario.json'), JSON.stringify(scenario, null, 2));
      // the probe extension whose test suite drives the installed one: its folder holds the compiled suite
      const probe = join(ROOT, 'out', 'test', 'integration', 'vsix');
      writeFileSync(
        join(probe, 'package.json'),
        JSON.stringify({ name: 'scalekv-vsix-probe', publisher: 'scalekv-test', version: '0.0.1', engines: { vscode: '^1.90.0' } }),
      );
      // Install CUDA Provider fetches from a local NuGet-shaped feed serving a fake package
      const feed = await startFakeFeed(cudaSource(join(installedPath, 'node_modules', 'onnxruntime-node'), 'linux', 'x64'), fakeBody());
      const wb = await openWorkbench(installed, {
        workspace: ws,
        state,
        suite: join(probe, 'suite.js'),
        developmentPath: probe,
        env: { SCALEKV_CUDA_FEED: feed.index },
      });
      const page = wb.page;
      mkdirSync(SHOTS, { recursive: true });
      try {
        const report = await waitFor<SuiteReport>(
          'the suite in the extension host',
          () => {
            if (wb.server.exitCode !== null) throw new Error(`code-server exited:\n${wb.serverLog.slice(-40).join('\n')}`);
            const f = join(ws, REPORT_FILE);
            return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as SuiteReport) : undefined;
          },
          1_000_000,
          500,
        ).catch(async (e) => {
          await page.screenshot({ path: join(SHOTS, 'vsix-timeout.png') }).catch(() => undefined);
          throw new Error(`${(e as Error).message}\nserver log:\n${wb.serverLog.slice(-40).join('\n')}`);
        });
        for (const r of report.results) {
          await t.test(`in the extension host: ${r.name}`, () => {
            if (!r.ok) assert.fail(r.error);
          });
        }
        for (const n of report.ui.notes) t.diagnostic(n);

        await t.test('on screen: the installed extension’s visualizer draws the run and the sidebar shows model and provider', async () => {
          try {
            const vis = await frameWith(page, '#grid svg.grid .cells rect.cell');
            assert.equal(await vis.locator('#grid svg.grid .cells rect.cell').count(), report.ui.visualizerCells);
            assert.match((await vis.locator('#image').getAttribute('src')) ?? '', /^data:image\/png;base64,/);
            const side = await frameWith(page, '#root .kv');
            let text = '';
            await waitFor(
              'the sidebar state',
              async () => {
                text = (await side.locator('#root').textContent()) ?? '';
                return report.ui.sidebarText.every((s) => text.includes(s)) ? true : undefined;
              },
              15_000,
            ).catch(() => undefined);
            for (const s of report.ui.sidebarText) assert.ok(text.includes(s), `sidebar shows "${s}" in: ${text.slice(0, 400)}`);
            assert.equal(
              await side.locator('button[data-cmd="scalekv.installCudaProvider"]').count(),
              0,
              'no Install button once installed',
            );
            await vis.locator('#grid rect.cell[data-layer="1"]').last().click();
            await page.waitForTimeout(1000);
          } finally {
            await page.screenshot({ path: join(SHOTS, 'vsix-installed.png') });
          }
        });
      } finally {
        writeFileSync(join(ws, UI_DONE_FILE), '{}');
        await new Promise((r) => setTimeout(r, 500));
        await wb.close();
        feed.close();
        rmSync(join(probe, 'package.json'), { force: true });
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
);
