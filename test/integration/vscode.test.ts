/**
 * Integration tests in a real VS Code (1.139, code-server's build, from the npm registry): the extension
 * is loaded from this repository as the extension under development, the suite in ./suite runs inside
 * the Node extension host and drives the commands and the notebook controller through the real API,
 * and this driver then checks in the workbench's own DOM (Chromium) what a user would see: the
 * visualizer panel answering a click with the retention map, the sidebar, the notebook renderer's
 * grid, and the error notifications that bad input raised.
 */
import * as assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { tempDir } from '../unit/engine/helpers';
import { REPORT_FILE, SCENARIO_FILE, UI_DONE_FILE, type Scenario, type SuiteReport } from './protocol';
import { codeServerInstalled, openWorkbench, ROOT } from './workbench';

const SHOTS = join(ROOT, '.tmp', 'screenshots');

async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** the webview frame (VS Code nests each webview's page in an inner iframe) holding selector */
function frameWith(page: Page, selector: string, timeoutMs = 30_000): Promise<Frame> {
  return waitFor(`a webview frame with ${selector}`, async () => {
    for (const f of page.frames()) {
      if (f === page.mainFrame()) continue;
      if ((await f.locator(selector).count().catch(() => 0)) > 0) return f;
    }
    return undefined;
  }, timeoutMs, 300);
}

test('ScaleKV in a real VS Code: commands, visualizer, sidebar, notebook controller, bad input', { timeout: 1_200_000 }, async (t) => {
  const installed = codeServerInstalled();
  assert.ok(installed, 'VS Code (code-server) is not installed: run node test/integration/installVsCode.mjs (npm test does)');
  t.diagnostic(`VS Code host: ${installed.trim()}`);
  const ws = tempDir('scalekv-it-ws');
  const state = tempDir('scalekv-it-state');
  const scenario: Scenario = {
    repoRoot: ROOT,
    officialTable2b: join(ws, 'infinity-2b-10pct.json'),
    notebook: join(ws, 'scalekv-demo.ipynb'),
  };
  copyFileSync(join(ROOT, 'test', 'fixtures', 'scalekv', 'official-budgets', 'infinity-2b-10pct.json'), scenario.officialTable2b);
  copyFileSync(join(ROOT, 'examples', 'scalekv-demo.ipynb'), scenario.notebook);
  writeFileSync(join(ws, SCENARIO_FILE), JSON.stringify(scenario, null, 2));
  const notebookBefore = readFileSync(join(ROOT, 'examples', 'scalekv-demo.ipynb'));

  const wb = await openWorkbench({ workspace: ws, state, suite: join(ROOT, 'out', 'test', 'integration', 'suite', 'index.js') });
  const page = wb.page;
  mkdirSync(SHOTS, { recursive: true });
  try {
    const report = await waitFor<SuiteReport>('the suite in the extension host', () => {
      if (wb.server.exitCode !== null) throw new Error(`code-server exited:\n${wb.serverLog.slice(-40).join('\n')}`);
      const f = join(ws, REPORT_FILE);
      return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as SuiteReport) : undefined;
    }, 900_000, 500).catch(async (e) => {
      await page.screenshot({ path: join(SHOTS, 'vscode-timeout.png') }).catch(() => undefined);
      throw new Error(`${(e as Error).message}\nserver log:\n${wb.serverLog.slice(-40).join('\n')}`);
    });
    await page.screenshot({ path: join(SHOTS, 'vscode-final.png') });

    for (const r of report.results) {
      await t.test(`in the extension host: ${r.name}`, () => {
        if (!r.ok) assert.fail(r.error);
      });
    }
    const ui = report.ui;

    await t.test('on screen: the visualizer draws the grid and answers a click with the retention map', async () => {
      assert.ok(ui.visualizerCells > 0 && ui.retention, 'the suite opened the visualizer on a run');
      const f = await frameWith(page, '#grid svg.grid .cells rect.cell');
      assert.equal(await f.locator('#grid svg.grid .cells rect.cell').count(), ui.visualizerCells);
      assert.match((await f.locator('#image').getAttribute('src')) ?? '', /^data:image\/png;base64,/);
      const { layer, scaleIndex, cached } = ui.retention!;
      await f.locator(`#grid rect.cell[data-layer="${layer}"][data-scale="${scaleIndex}"]`).click();
      // the click goes to the extension host, which reads the slice from retention.bin and answers
      let last: string | null = null;
      await waitFor(`the retention map to show the ${cached} tokens layer ${layer} held at scale ${scaleIndex}`, async () => {
        last = await f.locator('#retention').getAttribute('data-kept');
        return last === String(cached) ? true : undefined;
      }, 20_000).catch((e) => assert.fail(`${(e as Error).message}; the map shows ${last}`));
      assert.equal(await f.locator('select#head, #head').count() > 0, true);
      await page.screenshot({ path: join(SHOTS, 'vscode-visualizer-click.png') });
    });

    await t.test('on screen: the sidebar shows the model, the profile and the runs', async () => {
      const f = await frameWith(page, '#root .kv');
      let text = '';
      await waitFor('the sidebar state', async () => {
        text = (await f.locator('#root').textContent()) ?? '';
        return ui.sidebarText.every((s) => text.includes(s)) ? true : undefined;
      }, 15_000).catch(() => undefined);
      for (const s of ui.sidebarText) assert.ok(text.includes(s), `sidebar shows "${s}" in: ${text.slice(0, 400)}`);
      assert.ok(await f.locator('button[data-cmd="scalekv.generate"]').count(), 'a Generate button');
    });

    await t.test('on screen: the notebook renderer draws the calibrated profile', async () => {
      assert.ok(ui.notebookProfileCells > 0, 'the suite ran the notebook');
      const f = await frameWith(page, '.scalekv-output svg.grid .cells rect.cell', 60_000);
      assert.equal(await f.locator('.scalekv-output svg.grid').first().locator('.cells rect.cell').count(), ui.notebookProfileCells);
      assert.equal(await f.locator('.scalekv-output .error').count(), 0, 'no renderer error boxes');
    });

    await t.test('on screen: bad input raised clear error notifications', async () => {
      const messages = await page.locator('.notifications-center .notification-list-item-message').allTextContents();
      writeFileSync(join(SHOTS, 'vscode-notifications.txt'), messages.join('\n'));
      for (const e of ui.errors) assert.ok(messages.some((m) => m.includes(e)), `a notification says "${e}"; shown:\n${messages.join('\n')}`);
    });

    await t.test('the example notebook in the repository was not modified', () => {
      assert.deepEqual(readFileSync(join(ROOT, 'examples', 'scalekv-demo.ipynb')), notebookBefore);
    });
    const csp = wb.pageErrors.filter((m) => /Refused to/.test(m) && /scalekv|media\/dist/i.test(m));
    await t.test('no Content-Security-Policy refusals for the extension’s webviews', () => assert.deepEqual(csp, []));
  } finally {
    writeFileSync(join(ws, UI_DONE_FILE), '{}');
    await new Promise((r) => setTimeout(r, 500));
    await wb.close();
  }
});
