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
import {
  REPORT_FILE,
  SCENARIO_FILE,
  SET_SETTING,
  UI_DONE_FILE,
  writeJsonAtomic,
  type ActionReply,
  type DriverAction,
  type Scenario,
  type SuiteReport,
} from './protocol';
import { waitFor } from './suite/harness';
import { codeServerInstalled, frameWith, openWorkbench, ROOT } from './workbench';

const SHOTS = join(ROOT, '.tmp', 'screenshots');

let actionId = 0;
/** runs a command in the extension host through the suite (see DriverAction) */
async function inVsCode(ws: string, command: string, args: unknown[] = [], fileArgs: number[] = []): Promise<void> {
  const a: DriverAction = { id: ++actionId, command, args, fileArgs };
  writeJsonAtomic(join(ws, `action-${a.id}.json`), a);
  const reply = await waitFor<ActionReply>(
    `the extension host to run ${command}`,
    () => {
      const f = join(ws, `action-${a.id}.reply.json`);
      return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as ActionReply) : undefined;
    },
    30_000,
    200,
  );
  if (!reply.ok) throw new Error(`${command} failed in the extension host: ${reply.error}`);
}

/** a notebook as a Python Jupyter kernel saves it: display_data outputs carrying ScaleKV's MIME types */
function pythonNotebook(profile: unknown): string {
  const display = (data: Record<string, unknown>) => ({ output_type: 'display_data', data, metadata: {} });
  return JSON.stringify(
    {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
      cells: [
        {
          cell_type: 'code',
          id: 'show-profile',
          execution_count: 1,
          metadata: {},
          source: [
            'import json\n',
            'from IPython.display import display\n',
            "display({'application/vnd.scalekv.profile+json': json.load(open('profile.json'))}, raw=True)",
          ],
          outputs: [display({ 'application/vnd.scalekv.profile+json': profile })],
        },
        {
          cell_type: 'code',
          id: 'show-bad-run',
          execution_count: 2,
          metadata: {},
          source: ["display({'application/vnd.scalekv.run+json': {'run': {'format': 'scalekv-run'}, 'images': 'none'}}, raw=True)"],
          outputs: [display({ 'application/vnd.scalekv.run+json': { run: { format: 'scalekv-run' }, images: 'none' } })],
        },
      ],
    },
    null,
    1,
  );
}

/**
 * The notification whose message holds text, as a toast or, where VS Code shows no toasts (while the
 * notification list is open, or in a window without focus), in the notification list; expanded so
 * that its buttons show.
 */
async function notification(page: Page, ws: string, text: string, timeoutMs: number) {
  const item = (where: string) =>
    page.locator(`${where} .notification-list-item`, { has: page.locator('.notification-list-item-message', { hasText: text }) }).first();
  const t0 = Date.now();
  let opened = 0;
  const found = await waitFor(
    `a notification saying "${text}"`,
    async () => {
      if (await item('.notifications-toasts').isVisible()) return item('.notifications-toasts');
      if (Date.now() - t0 < 8000) return undefined; // toasts first
      // then the list, opened afresh now and then: an item that arrives while it opens can be missing
      if (Date.now() - opened > 5000) {
        await inVsCode(ws, 'notifications.hideList');
        await inVsCode(ws, 'notifications.showList');
        opened = Date.now();
      }
      return (await item('.notifications-center').isVisible()) ? item('.notifications-center') : undefined;
    },
    timeoutMs,
    500,
  ).catch(async (e) => {
    const shown = await page.locator('.notification-list-item-message').allTextContents();
    throw new Error(`${(e as Error).message}; notifications in the page:\n${shown.join('\n')}`);
  });
  const expand = found.locator('.codicon-notifications-expand, .codicon-notifications-expand-down');
  if (await expand.count()) await expand.first().click();
  return found;
}

/** runs a command from the command palette by its title */
async function palette(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 10_000 });
  await input.press('Enter');
}

/** answers the quick input titled `title` (an input box, or a pick list filtered by the text) */
async function answer(page: Page, title: string, text: string, o: { expectMessage?: string } = {}): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  await widget.locator('.quick-input-title', { hasText: title }).waitFor({ state: 'visible', timeout: 20_000 });
  const input = widget.locator('.quick-input-box input');
  await input.fill(text);
  if (o.expectMessage) {
    await widget.locator('.quick-input-message', { hasText: o.expectMessage }).waitFor({ state: 'visible', timeout: 10_000 });
    await input.press('Enter');
    // still the same step: the invalid answer was not taken
    await widget.locator('.quick-input-title', { hasText: title }).waitFor({ state: 'visible', timeout: 5_000 });
    return;
  }
  if (await widget.locator('.monaco-list-row:visible').count())
    await widget.locator('.monaco-list-row', { hasText: text }).first().waitFor({ timeout: 10_000 });
  await input.press('Enter');
}

test('ScaleKV in a real VS Code: commands, visualizer, sidebar, notebook controller, bad input', { timeout: 1_200_000 }, async (t) => {
  const installed = codeServerInstalled();
  assert.ok(installed, 'VS Code (code-server) is not installed: run node test/integration/installVsCode.mjs (npm test does)');
  t.diagnostic(`VS Code host: code-server ${installed.codeServer} on Node ${installed.node}`);
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
  const shippedProfile = JSON.parse(readFileSync(join(ROOT, 'media', 'models', 'infinity-shapes', 'profile-0.25M-10pct.json'), 'utf8'));
  writeFileSync(join(ws, 'python-outputs.ipynb'), pythonNotebook(shippedProfile));
  const notebookBefore = readFileSync(join(ROOT, 'examples', 'scalekv-demo.ipynb'));

  const wb = await openWorkbench(installed, { workspace: ws, state, suite: join(ROOT, 'out', 'test', 'integration', 'suite', 'index.js') });
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
      900_000,
      500,
    ).catch(async (e) => {
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
    for (const n of ui.notes) t.diagnostic(n);
    /** an on-screen check: on failure, a screenshot of the workbench goes beside the others */
    const onScreen = (name: string, fn: () => Promise<void>) =>
      t.test(name, async () => {
        try {
          await fn();
        } catch (e) {
          await page
            .screenshot({ path: join(SHOTS, `vscode-failed-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`) })
            .catch(() => undefined);
          throw e;
        }
      });

    await onScreen('on screen: the visualizer draws the grid and answers a click with the retention map', async () => {
      assert.ok(ui.visualizerCells > 0 && ui.retention, 'the suite opened the visualizer on a run');
      const f = await frameWith(page, '#grid svg.grid .cells rect.cell');
      assert.equal(await f.locator('#grid svg.grid .cells rect.cell').count(), ui.visualizerCells);
      assert.match((await f.locator('#image').getAttribute('src')) ?? '', /^data:image\/png;base64,/);
      const { layer, scaleIndex, cached } = ui.retention;
      await f.locator(`#grid rect.cell[data-layer="${layer}"][data-scale="${scaleIndex}"]`).click();
      // the click goes to the extension host, which reads the slice from retention.bin and answers
      let last: string | null = null;
      await waitFor(
        `the retention map to show the ${cached} tokens layer ${layer} held at scale ${scaleIndex}`,
        async () => {
          last = await f.locator('#retention').getAttribute('data-kept');
          return last === String(cached) ? true : undefined;
        },
        20_000,
      ).catch((e) => assert.fail(`${(e as Error).message}; the map shows ${last}`));
      assert.equal((await f.locator('select#head, #head').count()) > 0, true);
      await page.screenshot({ path: join(SHOTS, 'vscode-visualizer-click.png') });
    });

    await onScreen('on screen: the sidebar shows the model, the profile and the runs', async () => {
      const f = await frameWith(page, '#root .kv');
      let text = '';
      await waitFor(
        'the sidebar state',
        async () => {
          text = (await f.locator('#root').textContent()) ?? '';
          return ui.sidebarText.every((s) => text.includes(s)) ? true : undefined;
        },
        15_000,
      ).catch(() => undefined);
      for (const s of ui.sidebarText) assert.ok(text.includes(s), `sidebar shows "${s}" in: ${text.slice(0, 400)}`);
      assert.ok(await f.locator('[data-cmd="scalekv.generate"]').count(), 'a Generate button');
    });

    await onScreen('on screen: the notebook renderer draws the calibrated profile', async () => {
      assert.ok(ui.notebookProfileCells > 0, 'the suite ran the notebook');
      const f = await frameWith(page, '.scalekv-output svg.grid .cells rect.cell', 60_000);
      assert.equal(await f.locator('.scalekv-output svg.grid').first().locator('.cells rect.cell').count(), ui.notebookProfileCells);
      assert.equal(await f.locator('.scalekv-output .error').count(), 0, 'no renderer error boxes');
    });

    await onScreen('on screen: bad input raised clear error notifications', async () => {
      const messages = await page.locator('.notifications-center .notification-list-item-message').allTextContents();
      writeFileSync(join(SHOTS, 'vscode-notifications.txt'), messages.join('\n'));
      for (const e of ui.errors)
        assert.ok(
          messages.some((m) => m.includes(e)),
          `a notification says "${e}"; shown:\n${messages.join('\n')}`,
        );
    });

    await onScreen('the command palette: Calibrate asks for the model, the prompts and the budget, then reports the profile', async () => {
      await page.keyboard.press('Escape');
      await palette(page, 'ScaleKV: Calibrate');
      await answer(page, 'ScaleKV: Calibrate (1/3)', 'infinity-shapes');
      await answer(page, 'ScaleKV: Calibrate (2/3)', 'Built-in prompts');
      await answer(page, 'ScaleKV: Calibrate (3/3)', '2', { expectMessage: 'Enter a number in (0, 1].' });
      await answer(page, 'ScaleKV: Calibrate (3/3)', '0.2');
      await notification(page, ws, 'ScaleKV: calibrated infinity-shapes on 10 prompts', 240_000);
      await inVsCode(ws, 'notifications.hideList');
      const written = join(ws, 'scalekv-runs', 'profiles', 'profile-0.06M-20pct.json');
      assert.ok(existsSync(written), `${written} was written`);
      assert.equal(JSON.parse(readFileSync(written, 'utf8')).settings.targetRatio, 0.2);
    });

    await onScreen('the command palette: Generate Image asks, validates, runs, and its result opens the visualizer', async () => {
      await palette(page, 'ScaleKV: Generate Image');
      // a step keeps its place when the focus goes elsewhere (here the active editor tab)
      const step1 = page.locator('.quick-input-widget .quick-input-title', { hasText: 'ScaleKV: Generate (1/4)' });
      await step1.waitFor({ state: 'visible', timeout: 20_000 });
      await page.locator('.part.editor .tab.active').first().click();
      await page.waitForTimeout(500);
      assert.ok(await step1.isVisible(), 'the first step is still open after the focus left it');
      await answer(page, 'ScaleKV: Generate (1/4)', 'a large red circle at the top left on a blue background');
      // the seed box refuses what is not a non-negative integer, on screen, and keeps asking
      await answer(page, 'ScaleKV: Generate (2/4)', 'seven', { expectMessage: 'Enter a non-negative integer.' });
      await answer(page, 'ScaleKV: Generate (2/4)', '7');
      await answer(page, 'ScaleKV: Generate (3/4)', '0.06M');
      await answer(page, 'ScaleKV: Generate (4/4)', 'scalekv');
      await answer(page, 'KV budget', '0.1');
      const done = await notification(page, ws, 'ScaleKV: 1 image(s) with scalekv', 120_000);
      await page.screenshot({ path: join(SHOTS, 'vscode-palette-generate.png') });
      await done.getByRole('button', { name: 'Open Visualizer' }).click();
      await inVsCode(ws, 'notifications.hideList');
      const f = await frameWith(page, '#grid svg.grid .cells rect.cell');
      await waitFor(
        'the visualizer to show the new run',
        async () => (/a large red circle at the top left/.test((await f.locator('#image-caption').textContent()) ?? '') ? true : undefined),
        20_000,
      );
      assert.equal(
        await f.locator('#grid svg.grid .cells rect.cell').count(),
        12 * 7,
        'the 256x256 run of the default model: 12 layers x 7 scales',
      );
    });

    await onScreen('the progress notification’s Cancel button stops a run', async () => {
      await palette(page, 'ScaleKV: Generate Image');
      await answer(page, 'ScaleKV: Generate (1/4)', 'a slow lighthouse');
      await answer(page, 'ScaleKV: Generate (2/4)', '0');
      await answer(page, 'ScaleKV: Generate (3/4)', '1M');
      await answer(page, 'ScaleKV: Generate (4/4)', 'full');
      const progress = await notification(page, ws, 'ScaleKV: Generating', 30_000);
      await page.waitForTimeout(1500);
      await progress.getByRole('button', { name: 'Cancel' }).click();
      await notification(page, ws, 'ScaleKV: Generating cancelled.', 30_000);
      await inVsCode(ws, 'notifications.hideList');
    });

    await t.test('the example notebook in the repository was not modified', () => {
      assert.deepEqual(readFileSync(join(ROOT, 'examples', 'scalekv-demo.ipynb')), notebookBefore);
    });
    await onScreen('a Python kernel’s saved outputs render: the profile as a grid, a malformed run as an error box', async () => {
      // beside, so the visualizer stays visible for the reload check
      await inVsCode(ws, 'vscode.openWith', [join(ws, 'python-outputs.ipynb'), 'jupyter-notebook', -2], [0]);
      const f = await frameWith(page, '.scalekv-output .error', 60_000);
      assert.match((await f.locator('.scalekv-output .error').first().textContent()) ?? '', /ScaleKV cannot render this output/);
      const cells = shippedProfile.model.depth * shippedProfile.model.schedule.length;
      await waitFor(
        'the profile grid',
        async () => ((await f.locator('.scalekv-output svg.grid .cells rect.cell').count()) === cells ? true : undefined),
        20_000,
      ).catch(async () =>
        assert.fail(`the grid has ${await f.locator('.scalekv-output svg.grid .cells rect.cell').count()} cells, expected ${cells}`),
      );
      await page.screenshot({ path: join(SHOTS, 'vscode-python-outputs.png') });
    });

    await onScreen('the visualizer and the sidebar follow the colour theme (light, high contrast, back to dark)', async () => {
      const vis = await frameWith(page, '#grid svg.grid .cells rect.cell');
      const side = await frameWith(page, '#root .kv');
      const bodyClass = (f: Frame) =>
        f
          .locator('body')
          .getAttribute('class')
          .then((c) => c ?? '');
      const cellFill = () =>
        vis
          .locator('#grid svg.grid .cells rect.cell')
          .last()
          .evaluate((e) => getComputedStyle(e).stroke + ' ' + getComputedStyle(document.body).backgroundColor);
      const dark = await cellFill();
      for (const [theme, cls, shot] of [
        ['Default Light Modern', 'vscode-light', 'light'],
        ['Default High Contrast', 'vscode-high-contrast', 'hc'],
        ['Default Dark Modern', 'vscode-dark', 'dark'],
      ] as const) {
        await inVsCode(ws, SET_SETTING, ['workbench.colorTheme', theme]);
        await waitFor(
          `the webviews to take the ${theme} theme`,
          async () =>
            (await bodyClass(vis)).split(' ').includes(cls) && (await bodyClass(side)).split(' ').includes(cls) ? true : undefined,
          20_000,
        );
        await page.waitForTimeout(300);
        await page.screenshot({ path: join(SHOTS, `vscode-theme-${shot}.png`) });
        if (cls === 'vscode-light') assert.notEqual(await cellFill(), dark, 'the grid is drawn with the light theme’s colours');
      }
    });

    await onScreen('after a reload the visualizer panel comes back with its run (WebviewPanelSerializer)', async () => {
      await wb.reload();
      const f = await frameWith(page, '#grid svg.grid .cells rect.cell', 90_000);
      await waitFor(
        'the restored panel to show its run',
        async () => (/a large red circle at the top left/.test((await f.locator('#image-caption').textContent()) ?? '') ? true : undefined),
        30_000,
      );
      assert.equal(await f.locator('#grid svg.grid .cells rect.cell').count(), 12 * 7);
      // the revived host has the same run: a click is answered with its retention map, and no error shows
      await f.locator('#grid rect.cell[data-layer="2"][data-scale="6"]').click();
      await waitFor(
        'the retention map after the reload',
        async () => ((await f.locator('#retention-note').textContent())?.includes('Layer 2') ? true : undefined),
        20_000,
      );
      assert.equal(await f.locator('#error').isVisible(), false, `error panel: ${await f.locator('#error').textContent()}`);
      await page.screenshot({ path: join(SHOTS, 'vscode-after-reload.png') });
    });

    const csp = wb.pageErrors.filter((m) => /Refused to/.test(m) && /scalekv|media\/dist/i.test(m));
    await t.test('no Content-Security-Policy refusals for the extension’s webviews', () => assert.deepEqual(csp, []));
  } finally {
    writeFileSync(join(ws, UI_DONE_FILE), '{}');
    await new Promise((r) => setTimeout(r, 500));
    await wb.close();
  }
});
