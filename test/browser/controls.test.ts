/**
 * The webviews' VS Code Elements controls in Chromium, used from the keyboard and read as a screen
 * reader reads them: every button, select, checkbox, tab, table and progress bar has a role and an
 * accessible name; Tab reaches them, Enter and Space press buttons, the arrows and Enter pick options
 * in the selects and switch tabs, Escape closes a list without a change. The pages load under the
 * hosts' strict CSP with no refusal (the elements' styles are constructable stylesheets).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { FromSidebar, FromWebview, SidebarState } from '../../src/shared/protocol';
import { COMMANDS } from '../../src/shared/commandIds';
import { PROFILE_MIME, RUN_MIME, type RunPayload } from '../../src/shared/types';
import { profile2B, smallPayload, type SmallRun } from '../fixtures/webview/makeFixtures';
import { tempDir } from '../unit/engine/helpers';
import {
  cspRefusals,
  launch,
  posted as postedBy,
  rendererPage,
  send,
  shot,
  sidebarPage,
  visualizerPage,
  watch,
  writeSmallRun,
} from './harness';

let browser: Browser;
let fx: SmallRun;
let payload: RunPayload;

before(async () => {
  ({ fixture: fx } = writeSmallRun());
  payload = smallPayload();
  browser = await launch();
});
after(async () => browser?.close());

type Posted = FromWebview | FromSidebar;
const posted = (page: Page) => postedBy<Posted>(page);
/** the element that has the keyboard focus: a light-DOM host's id, or its data-cmd */
const focused = (page: Page) =>
  page.evaluate(() => {
    const a = document.activeElement as HTMLElement | null;
    return a?.id || a?.dataset.cmd || a?.tagName.toLowerCase() || '';
  });

/** waits (up to 5 s) for read() to give want, as the elements re-render after an event; then asserts it */
async function until<T>(what: string, read: () => Promise<T>, want: T): Promise<void> {
  let got = await read();
  for (let i = 0; i < 100 && got !== want; i++) {
    await new Promise((r) => setTimeout(r, 50));
    got = await read();
  }
  assert.equal(got, want, what);
}

/**
 * Presses Tab until the element with this id (or data-cmd) has the focus (fails after max presses),
 * then lets the scroll that brings it into view finish: a select's list closes when the page scrolls.
 */
async function tabTo(page: Page, what: string, max = 40): Promise<number> {
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press('Tab');
    if ((await focused(page)) === what) {
      await page.waitForFunction(
        () =>
          new Promise((done) => {
            const y = window.scrollY;
            setTimeout(() => done(window.scrollY === y), 150);
          }),
      );
      return i;
    }
  }
  assert.fail(`Tab never reached ${what}`);
}

async function openVisualizerWithRun(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = watch(page);
  await page.goto(visualizerPage('dark'));
  await send(page, [{ type: 'run', run: fx.run, images: [{ prompt: fx.run.images[0].prompt, dataUri: fx.imageDataUri }] }]);
  await page.waitForSelector('svg.grid rect.cell');
  return { page, errors };
}

test('visualizer: every control has a role and a name a screen reader announces', async () => {
  const { page, errors } = await openVisualizerWithRun();
  for (const name of [
    'Export the grid as SVG',
    'Export the grid as PNG',
    'Export the grid as CSV',
    'Export the retention map as CSV',
    'Export KV memory per layer as PNG',
    'Export everything shown as JSON',
  ]) {
    assert.equal(await page.getByRole('button', { name, exact: true }).count(), 1, name);
  }
  assert.equal(await page.getByRole('group', { name: 'Export the grid' }).getByRole('button').count(), 3);
  const head = page.getByRole('combobox', { name: 'Head', exact: true });
  assert.equal(await head.count(), 1);
  assert.equal(await head.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.getByRole('combobox', { name: 'Row', exact: true }).count(), 1);
  const image = page.getByRole('checkbox', { name: 'Show the image' });
  assert.equal(await image.isChecked(), true);
  const table = page.getByRole('table', { name: 'Fidelity against the full cache' });
  assert.deepEqual(await table.getByRole('columnheader').allTextContents(), ['prompt', 'seed', 'PSNR (dB)', 'SSIM', 'LPIPS']);
  // one row per image (the header cells sit in a header group, not a row)
  assert.equal(await table.getByRole('row').count(), fx.run.fidelity!.images.length);
  // the same tree as an accessibility snapshot: what assistive technology is given
  const tree = await page.locator('body').ariaSnapshot();
  for (const line of [
    'combobox "Head"',
    'combobox "Row"',
    'checkbox "Show the image"',
    'button "Export the grid as SVG"',
    'table "Fidelity against the full cache"',
  ])
    assert.ok(tree.includes(line), `${line} in\n${tree}`);
  // the buttons' codicons come from the linked codicon.css (and its font), inside each button's shadow root
  const glyph = await page
    .locator('#export-grid-svg vscode-icon')
    .evaluate((i) => getComputedStyle(i.shadowRoot!.querySelector('.codicon')!, '::before').fontFamily);
  assert.match(glyph, /codicon/);
  await shot(page, 'controls-visualizer-dark');
  assert.deepEqual(await cspRefusals(page), [], 'no CSP refusal under the host CSP');
  assert.deepEqual(errors, []);
  await page.close();
});

test('visualizer: Tab reaches the buttons, Enter and Space press them, arrows and Enter pick in the selects, Escape backs out', async () => {
  const { page, errors } = await openVisualizerWithRun();
  const exports = async () => (await posted(page)).filter((m) => m.type === 'export').map((m) => m.suggestedName);

  assert.equal(await tabTo(page, 'export-json'), 1, 'the header export is the first stop');
  await page.keyboard.press('Enter');
  await tabTo(page, 'export-grid-csv');
  await page.keyboard.press(' ');
  const names = await exports();
  assert.equal(names.length, 2);
  assert.match(names[0], /\.json$/);
  assert.match(names[1], /-grid\.csv$/);

  // the head select: focus, ArrowDown opens on the current option, ArrowDown twice, Enter picks head 2
  await tabTo(page, 'head');
  const combo = page.getByRole('combobox', { name: 'Head', exact: true });
  const expanded = () => combo.getAttribute('aria-expanded');
  await page.keyboard.press('ArrowDown');
  await until('ArrowDown opens the list', expanded, 'true');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await until('Enter closes the list', expanded, 'false');
  const last = (await posted(page)).filter((m) => m.type === 'select').pop() as Extract<FromWebview, { type: 'select' }>;
  assert.equal(last.selection.head, 2);
  assert.match((await page.locator('#selection-label').textContent()) ?? '', /head 2/);

  // Escape closes the list and keeps the value; Space opens it too
  const selects = (await posted(page)).filter((m) => m.type === 'select').length;
  await page.keyboard.press(' ');
  await until('Space opens the list', expanded, 'true');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Escape');
  await until('Escape closes the list', expanded, 'false');
  assert.equal((await posted(page)).filter((m) => m.type === 'select').length, selects, 'Escape changes nothing');

  // the row select, then the checkbox: Space hides the image and the map takes its room
  await tabTo(page, 'row');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  assert.equal(
    ((await posted(page)).filter((m) => m.type === 'select').pop() as Extract<FromWebview, { type: 'select' }>).selection.row,
    1,
  );
  await tabTo(page, 'show-image');
  assert.equal(await page.locator('#image-figure').isVisible(), true);
  await page.keyboard.press(' ');
  await until('Space unticks the checkbox', () => page.getByRole('checkbox', { name: 'Show the image' }).isChecked(), false);
  assert.equal(await page.locator('#image-figure').isHidden(), true);

  // a disabled export (no retention slice yet) takes neither focus nor presses
  await send(page, [{ type: 'run', run: fx.run, images: [] }]);
  await page.waitForFunction(() => document.getElementById('retention-note')!.textContent.startsWith('Loading'));
  await until('a progress ring while the kept tokens load', () => page.locator('#retention-loading').isVisible(), true);
  assert.equal(await page.getByRole('alert', { name: 'Loading the kept tokens' }).count(), 1);
  const before = (await exports()).length;
  await page.locator('#export-retention-png').click({ force: true });
  assert.equal((await exports()).length, before);
  await until('a disabled button leaves the tab order', () => page.locator('#export-retention-png').getAttribute('tabindex'), '-1');
  assert.deepEqual(await cspRefusals(page), []);
  assert.deepEqual(errors, []);
  await page.close();
});

function sidebarState(busy: string | null): SidebarState {
  return {
    model: { name: 'infinity-tiny', depth: 8, numHeads: 4, headDim: 16, source: 'embedded' } as SidebarState['model'],
    provider: { used: 'cpu', reason: 'no GPU provider here' } as SidebarState['provider'],
    profile: { path: '/runs/profiles/profile-1M-10pct.json', origin: 'calibrated', targetRatio: 0.1 },
    runs: [
      { id: 'r1', path: '/runs/r1/run.json', policy: 'scalekv 10%', createdAt: new Date(0).toISOString(), kvHeldRatio: 0.061, psnr: 31.4 },
    ],
    busy,
  };
}

test('sidebar: named buttons and a progress bar while busy; Enter and Space run commands and keep the focus', async () => {
  const page = await browser.newPage({ viewport: { width: 320, height: 800 } });
  const errors = watch(page);
  await page.goto(sidebarPage('light'));
  await send(page, [{ type: 'state', state: sidebarState(null) }]);
  await page.waitForSelector('vscode-button');
  for (const name of ['Select Model', 'Calibrate', 'Import Budget', 'Export Profile', 'Generate', 'Compare Policies', 'Open Visualizer']) {
    assert.equal(await page.getByRole('button', { name, exact: true }).count(), 1, name);
  }
  assert.equal(await page.getByRole('progressbar').count(), 0);
  assert.equal(await page.getByRole('link', { name: /scalekv 10%/ }).count(), 1);
  for (const h of ['Model', 'Profile', 'Run', 'Recent runs'])
    assert.equal(await page.getByRole('region', { name: h, exact: true }).count(), 1, h);

  await tabTo(page, COMMANDS.generate);
  await page.keyboard.press('Enter');
  await tabTo(page, COMMANDS.openVisualizer);
  await page.keyboard.press(' ');
  const commands = async () =>
    (await posted(page)).filter((m) => m.type === 'command').map((m) => (m as Extract<FromSidebar, { type: 'command' }>).command);
  assert.deepEqual(await commands(), [COMMANDS.generate, COMMANDS.openVisualizer]);

  // the host reports the job: a progress bar named for it and a Cancel button; the focus stays put
  await send(page, [{ type: 'state', state: sidebarState('Generating') }]);
  await page.getByRole('progressbar', { name: 'Generating' }).waitFor();
  await until('a redraw keeps the keyboard focus', () => focused(page), COMMANDS.openVisualizer);
  await page.getByRole('button', { name: 'Cancel', exact: true }).focus();
  await page.keyboard.press('Enter');
  assert.equal((await commands()).pop(), COMMANDS.cancel);
  await page.getByRole('link', { name: /scalekv 10%/ }).press('Enter');
  const open = (await posted(page)).filter((m) => m.type === 'command').pop() as Extract<FromSidebar, { type: 'command' }>;
  assert.deepEqual([open.command, open.args], [COMMANDS.openRun, ['/runs/r1/run.json']]);
  await shot(page, 'controls-sidebar-light');
  assert.deepEqual(await cspRefusals(page), [], 'no CSP refusal under the host CSP');
  assert.deepEqual(errors, []);
  await page.close();
});

test('sidebar: a redraw while the user types elsewhere in the workbench leaves the focus there', async () => {
  // the workbench hosts a webview in an iframe: a redraw that refocused the button focused last would
  // take the keyboard from a quick input the user is typing in, and VS Code closes a quick input that loses it
  const page = await browser.newPage({ viewport: { width: 640, height: 800 } });
  const errors = watch(page);
  const outer = join(tempDir('workbench'), 'index.html');
  writeFileSync(
    outer,
    `<!DOCTYPE html><html><body><input id="quick" aria-label="quick input"><iframe id="sidebar" src="${sidebarPage('dark')}" width="320" height="700"></iframe></body></html>`,
  );
  await page.goto(`file://${outer}`);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  assert.ok(frame, 'the sidebar frame loaded');
  await send(frame, [{ type: 'state', state: sidebarState(null) }]);
  const generate = frame.locator(`[data-cmd="${COMMANDS.generate}"]`);
  await generate.waitFor();
  await generate.focus();
  const active = () => page.evaluate(() => document.activeElement?.id ?? '');
  assert.equal(await active(), 'sidebar', 'the button in the frame had the focus');
  await page.locator('#quick').focus();
  assert.equal(await active(), 'quick');

  await send(frame, [{ type: 'state', state: sidebarState('Calibrating') }]);
  await frame.getByRole('progressbar', { name: 'Calibrating' }).waitFor();
  await send(frame, [{ type: 'state', state: sidebarState(null) }]);
  await until('the redraw is done', () => frame.getByRole('progressbar').count(), 0);
  await page.waitForTimeout(100);
  assert.equal(await active(), 'quick', 'the quick input keeps the keyboard after the sidebar redraws');
  await page.keyboard.type('a prompt');
  assert.equal(await page.locator('#quick').inputValue(), 'a prompt');
  assert.deepEqual(errors, []);
  await page.close();
});

test('sidebar: the CUDA provider row offers Install CUDA Provider while missing, and only then', async () => {
  const page = await browser.newPage({ viewport: { width: 320, height: 800 } });
  const errors = watch(page);
  await page.goto(sidebarPage('dark'));
  const install = page.getByRole('button', { name: 'Install CUDA Provider', exact: true });
  await send(page, [{ type: 'state', state: { ...sidebarState(null), cuda: { state: 'missing', detail: 'not downloaded' } } }]);
  await install.waitFor();
  assert.equal(await page.getByText('CUDA provider not installed.').count(), 1);
  await tabTo(page, COMMANDS.installCudaProvider);
  await page.keyboard.press('Enter');
  const last = (await posted(page)).filter((m) => m.type === 'command').pop() as Extract<FromSidebar, { type: 'command' }>;
  assert.equal(last.command, COMMANDS.installCudaProvider);

  await send(page, [{ type: 'state', state: { ...sidebarState(null), cuda: { state: 'installed', detail: 'CUDA 12, 210.4 MB' } } }]);
  await page.getByText('CUDA provider installed').waitFor();
  assert.equal(await install.count(), 0, 'no install button once installed');
  await send(page, [
    { type: 'state', state: { ...sidebarState(null), cuda: { state: 'unavailable', detail: 'no CUDA build for darwin' } } },
  ]);
  await until('nothing about CUDA where it cannot run', () => page.getByText(/CUDA provider/).count(), 0);
  assert.equal(await install.count(), 0);
  assert.deepEqual(await cspRefusals(page), [], 'no CSP refusal under the host CSP');
  assert.deepEqual(errors, []);
  await page.close();
});

test('notebook renderer: labelled selects and figure tabs work from the keyboard', async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  const errors = watch(page);
  await page.goto(rendererPage('dark'));
  await page.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready);
  await page.evaluate(
    ([mime, data, pmime, pdata]) => {
      const r = (window as unknown as { __renderer: { renderOutputItem(i: unknown, e: HTMLElement): void } }).__renderer;
      r.renderOutputItem({ id: 'a', mime, json: () => data }, document.getElementById('out1')!);
      r.renderOutputItem({ id: 'b', mime: pmime, json: () => pdata }, document.getElementById('out2')!);
    },
    [RUN_MIME, payload, PROFILE_MIME, profile2B()] as const,
  );
  const out = page.locator('#out1');
  for (const name of ['Layer', 'Scale', 'Head', 'Row'])
    assert.equal(await out.getByRole('combobox', { name, exact: true }).count(), 1, name);
  const tabs = out.getByRole('tab');
  const selectedTab = () =>
    out
      .getByRole('tab', { selected: true })
      .textContent()
      .then((t) => t?.trim());
  assert.deepEqual(
    (await tabs.allTextContents()).map((t) => t.trim()),
    ['KV per scale', 'KV per layer', 'Token agreement', 'Fidelity'],
  );
  await until('the first tab is selected', selectedTab, 'KV per scale');

  // the layer select from the keyboard: ArrowDown opens, ArrowDown moves, Enter picks layer 1
  await out.getByRole('combobox', { name: 'Layer', exact: true }).focus();
  await page.mouse.move(0, 0);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await until('Enter picks layer 1', () => out.locator('.layer').evaluate((e) => (e as HTMLElement & { value: string }).value), '1');
  assert.match((await out.locator('.note').first().textContent()) ?? '', /^Layer 1,/);

  // the tabs (manual activation): ArrowRight moves the focus along the tab list, Enter shows that tab's panel
  await tabs.first().focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  const focusedTab = () => page.evaluate(() => (document.activeElement as HTMLElement | null)?.textContent?.trim());
  await until('three ArrowRight presses reach the fourth tab', focusedTab, 'Fidelity');
  assert.equal(await selectedTab(), 'KV per scale', 'moving the focus does not switch the panel');
  await page.keyboard.press('Enter');
  await until('Enter selects the focused tab', selectedTab, 'Fidelity');
  const fidelity = out.getByRole('table', { name: 'Fidelity against the full cache' });
  assert.equal(await fidelity.isVisible(), true);
  assert.equal(await out.locator('svg.memory').isVisible(), false);
  assert.match((await fidelity.textContent()) ?? '', /31\.42/);
  await shot(page, 'controls-renderer-dark');
  assert.deepEqual(errors, []);
  await page.close();
});
