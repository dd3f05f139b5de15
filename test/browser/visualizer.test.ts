/**
 * The visualizer bundle in Chromium, with the page the host serves (visualizerHtml, strict CSP), a
 * stand-in webview API, and the webview fixtures: the official 2B profile, the 40 x 13 8B profile and
 * a 13-scale run whose retention slices are read by the host's own reader. Checks the grid's cells
 * and classes, mouse and keyboard selection and the messages they post, retention changes, state
 * across reload, every export, error panels, the 64x64 map, and takes screenshots in four themes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { FromWebview } from '../../src/shared/protocol';
import type { RunRecord, ScaleKVProfile } from '../../src/shared/types';
import { profile2B, profile8B, type SmallRun } from '../fixtures/webview/makeFixtures';
import {
  answerRetention,
  choose,
  launch,
  posted,
  send,
  serveRetention,
  shot,
  visualizerPage,
  watch,
  writeSmallRun,
  type Theme,
} from './harness';

let browser: Browser;
let p2b: ScaleKVProfile;
let p8b: ScaleKVProfile;
let fx: SmallRun;
let runDir: string;
let run: RunRecord;

before(async () => {
  p2b = profile2B();
  p8b = profile8B();
  ({ dir: runDir, fixture: fx } = writeSmallRun());
  run = fx.run;
  browser = await launch();
});
after(async () => browser?.close());

type Export = Extract<FromWebview, { type: 'export' }>;
const lastOf = async <T extends FromWebview['type']>(page: Page, type: T) =>
  (await posted(page)).filter((m) => m.type === type).pop() as Extract<FromWebview, { type: T }> | undefined;

async function open(theme: Theme, width = 1200): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const errors = watch(page);
  await page.goto(visualizerPage(theme));
  // the host's reader answers the webview's retention requests, as the panel does
  await serveRetention(page, runDir, run);
  return { page, errors };
}

const sendRun = (page: Page) => send(page, [{ type: 'run', run, images: [{ prompt: run.images[0].prompt, dataUri: fx.imageDataUri }] }]);

const kept = async (page: Page) => Number(await page.locator('#retention').getAttribute('data-kept'));
const cell = (page: Page, layer: number, si: number) => page.locator(`svg.grid rect.cell[data-layer="${layer}"][data-scale="${si}"]`);

test('the 2B profile grid has a cell per layer and scale with the official drafters, refiners and uncompressed scales', async () => {
  const { page, errors } = await open('dark');
  await send(page, [{ type: 'profile', profile: p2b }]);
  await page.waitForSelector('svg.grid rect.cell');
  const n = p2b.scales.length;
  assert.equal(await page.locator('svg.grid .cells rect.cell').count(), 32 * n);
  const compressed = p2b.scales.filter((s) => s.compressed);
  const drafters = compressed.reduce((a, s) => a + s.roles.filter((r) => r === 'drafter').length, 0);
  assert.equal(await page.locator('svg.grid .cells rect.cell.drafter').count(), drafters);
  assert.equal(await page.locator('svg.grid .cells rect.cell.refiner').count(), compressed.length * 32 - drafters);
  assert.equal(await page.locator('svg.grid .cells rect.cell.full').count(), (n - compressed.length) * 32);
  // "Scale 9" of the official table is scale index 7: block 0 and block 23 draft there
  assert.match((await cell(page, 0, 7).getAttribute('class')) ?? '', /drafter/);
  assert.match((await cell(page, 23, 7).getAttribute('class')) ?? '', /drafter/);
  assert.match((await cell(page, 1, 7).getAttribute('class')) ?? '', /refiner/);
  assert.match((await cell(page, 0, 6).getAttribute('class')) ?? '', /full/);
  await cell(page, 23, 7).hover();
  assert.match(
    (await page.locator('#hover').textContent()) ?? '',
    /Layer 23, scale 7 \(20×20\): drafter, ASI 0\.\d+, budget 920 tokens, cached 920 of 921 tokens/,
  );
  assert.equal(await page.locator('#grid-empty').isHidden(), true);
  assert.ok((await posted(page)).some((m) => m.type === 'ready'));
  await shot(page, 'visualizer-2b-dark');
  assert.deepEqual(errors, [], 'no page errors and no CSP refusals');
  await page.close();
});

test('clicking a cell posts select and requestRetention, and the retention map changes', async () => {
  const { page, errors } = await open('dark');
  await sendRun(page);
  const si = 11;
  const s = run.profile!.scales[si];
  const refiner = s.roles.indexOf('refiner');
  const drafter = s.roles.indexOf('drafter');
  await cell(page, refiner, si).click();
  const sel = await lastOf(page, 'select');
  assert.deepEqual([sel?.selection.layer, sel?.selection.scaleIndex], [refiner, si]);
  const req = await lastOf(page, 'requestRetention');
  assert.equal(req?.runId, run.id);
  assert.deepEqual(req?.selection, sel?.selection);
  await answerRetention(page);
  const keptRefiner = await kept(page);
  await cell(page, drafter, si).click();
  await answerRetention(page);
  const keptDrafter = await kept(page);
  assert.equal(keptRefiner, s.refinerBudget);
  assert.equal(keptDrafter, s.drafterBudget);
  assert.match(
    (await page.locator('#retention-note').textContent()) ?? '',
    new RegExp(`holds ${keptDrafter} of the ${s.cumulativeTokens} tokens`),
  );
  assert.equal(await page.locator('#retention').getAttribute('data-panels'), String(si + 1));
  assert.equal(await page.locator('svg.grid rect.cell.selected').count(), 1);
  // another head keeps as many tokens but different ones
  const before = await page.locator('#retention').evaluate((c: HTMLCanvasElement) => c.toDataURL());
  await choose(page, '#head', 'head 2');
  assert.equal((await lastOf(page, 'requestRetention'))?.selection.head, 2);
  await answerRetention(page);
  assert.equal(await kept(page), keptDrafter);
  assert.notEqual(await page.locator('#retention').evaluate((c: HTMLCanvasElement) => c.toDataURL()), before);
  await choose(page, '#row', 'unconditional');
  assert.equal((await lastOf(page, 'requestRetention'))?.selection.row, 1);
  await answerRetention(page);
  assert.equal(await page.locator('#image').getAttribute('src'), fx.imageDataUri);
  await shot(page, 'visualizer-run-dark');
  assert.deepEqual(errors, []);
  await page.close();
});

test('arrow keys move the cursor, Enter selects, and the selection survives a reload', async () => {
  const { page, errors } = await open('light');
  await sendRun(page);
  await cell(page, 2, 8).click();
  const count = (await posted(page)).filter((m) => m.type === 'select').length;
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  assert.equal((await posted(page)).filter((m) => m.type === 'select').length, count, 'moving the cursor does not select');
  assert.deepEqual(
    [
      await page.locator('svg.grid rect.cell.cursor').getAttribute('data-layer'),
      await page.locator('svg.grid rect.cell.cursor').getAttribute('data-scale'),
    ],
    ['4', '9'],
  );
  assert.match((await page.locator('#hover').textContent()) ?? '', /^Layer 4, scale 9/);
  await page.keyboard.press('Enter');
  const sel = await lastOf(page, 'select');
  assert.deepEqual([sel?.selection.layer, sel?.selection.scaleIndex], [4, 9]);
  await answerRetention(page);
  await page.reload();
  // nothing is sent again: the webview's own state draws the grid, the selection and asks for its slice
  await page.waitForSelector('svg.grid rect.cell.selected');
  const s = page.locator('svg.grid rect.cell.selected');
  assert.deepEqual([await s.getAttribute('data-layer'), await s.getAttribute('data-scale')], ['4', '9']);
  assert.deepEqual((await lastOf(page, 'requestRetention'))?.selection, { layer: 4, scaleIndex: 9, head: 0, row: 0 });
  await answerRetention(page);
  assert.equal(await kept(page), run.kv.perScale[9].perLayerTokens[4]);
  await shot(page, 'visualizer-run-light');
  assert.deepEqual(errors, []);
  await page.close();
});

test('exports: grid SVG that parses with every cell and inlined colours, retention SVG/CSV, PNGs, memory CSV, JSON', async () => {
  const { page, errors } = await open('dark');
  await sendRun(page);
  await cell(page, 1, 10).click();
  await answerRetention(page);
  const buttons = [
    '#export-grid-svg',
    '#export-grid-png',
    '#export-grid-csv',
    '#export-retention-svg',
    '#export-retention-png',
    '#export-retention-csv',
    '#export-memory-svg',
    '#export-memory-csv',
    '#export-layer-memory-png',
    '#export-agreement-svg',
    '#export-json',
  ];
  for (const b of buttons) await page.click(b);
  await page.waitForFunction(
    (n) => (window as unknown as { __posted: FromWebview[] }).__posted.filter((m) => m.type === 'export').length >= n,
    buttons.length,
  );
  const ex = (await posted(page)).filter((m): m is Export => m.type === 'export');
  const by = (name: RegExp) => ex.find((e) => name.test(e.suggestedName))!;
  const depth = run.profile!.model.depth;
  const n = run.profile!.scales.length;

  // parse outside the webview: a DOMParser document there would inherit its CSP
  const blank = await browser.newPage();
  const gridSvg = by(/-grid\.svg$/);
  const parsed = await blank.evaluate((t) => {
    const d = new DOMParser().parseFromString(t, 'image/svg+xml');
    const first = d.querySelector<SVGElement>('.cells rect.cell');
    return {
      error: d.querySelector('parsererror') !== null,
      cells: d.querySelectorAll('.cells rect.cell').length,
      drafters: d.querySelectorAll('.cells rect.cell.drafter').length,
      fill: /fill: (rgb[^;]*)/.exec(first?.getAttribute('style') ?? '')?.[1] ?? '',
      vars: t.includes('var(--') && /style="[^"]*var\(--/.test(t),
    };
  }, gridSvg.data);
  assert.equal(parsed.error, false);
  assert.equal(parsed.cells, depth * n);
  assert.equal(
    parsed.drafters,
    run.profile!.scales.filter((s) => s.compressed).reduce((a, s) => a + s.roles.filter((r) => r === 'drafter').length, 0),
  );
  assert.match(parsed.fill, /^rgb/, 'theme colours are written into the file');
  assert.equal(parsed.vars, false, 'no theme variable is left unresolved in inline styles');

  const retSvg = by(/-retention-L1-S10-H0-R0\.svg$/);
  const ret = await blank.evaluate((t) => {
    const d = new DOMParser().parseFromString(t, 'image/svg+xml');
    return {
      error: d.querySelector('parsererror') !== null,
      kept: d.querySelectorAll('rect.kept').length,
      all: d.querySelectorAll('rect.kept, rect.evicted').length,
    };
  }, retSvg.data);
  assert.equal(ret.error, false);
  assert.equal(ret.kept, run.kv.perScale[10].perLayerTokens[1]);
  assert.equal(ret.all, run.profile!.scales[10].cumulativeTokens);
  const retCsv = by(/-retention-.*\.csv$/)
    .data.trim()
    .split('\n');
  assert.equal(retCsv.length, 1 + run.profile!.scales[10].cumulativeTokens);

  for (const png of ex.filter((e) => e.kind === 'png'))
    assert.deepEqual([...Buffer.from(png.data, 'base64').subarray(1, 4)], [0x50, 0x4e, 0x47], png.suggestedName);
  assert.equal(ex.filter((e) => e.kind === 'png').length, 3);
  assert.equal(
    by(/-grid\.csv$/)
      .data.trim()
      .split('\n').length,
    1 + depth * n,
  );
  assert.equal(
    by(/-memory\.csv$/)
      .data.trim()
      .split('\n').length,
    1 + depth * n,
  );
  assert.match(by(/-memory\.svg$/).data, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(by(/-agreement\.svg$/).data, /line-agreement/);
  const json = JSON.parse(by(/\.json$/).data);
  assert.equal(json.run.id, run.id);
  assert.deepEqual(json.selection, { layer: 1, scaleIndex: 10, head: 0, row: 0 });
  assert.equal(json.retention.kept.length, run.kv.perScale[10].perLayerTokens[1]);
  assert.deepEqual(errors, []);
  await blank.close();
  await page.close();
});

test('malformed data shows a readable error panel, never a blank view', async () => {
  const { page, errors } = await open('dark');
  await send(page, [{ type: 'profile', profile: { format: 'scalekv-profile', model: { depth: 4 }, scales: [{ roles: ['drafter'] }] } }]);
  await page.waitForSelector('#error:not([hidden])');
  assert.equal(await page.locator('#error-title').textContent(), 'Cannot show this profile');
  assert.match((await page.locator('#error-detail').textContent()) ?? '', /scale 0 does not list a role for each of the 4 layers/);
  assert.equal(await page.locator('#grid-empty').isVisible(), true, 'the empty state explains what to do next');
  await shot(page, 'visualizer-error-dark');

  const bad = JSON.parse(JSON.stringify(run));
  delete bad.kv.perScale[3].heldBytes;
  await send(page, [{ type: 'run', run: bad, images: [] }]);
  await page.waitForFunction(() => document.getElementById('error-title')!.textContent === 'Cannot show this run');
  assert.match((await page.locator('#error-detail').textContent()) ?? '', /KV report entry 3/);

  await sendRun(page);
  await page.waitForSelector('#error', { state: 'hidden' });
  await cell(page, 0, 9).click();
  const req = await lastOf(page, 'requestRetention');
  await send(page, [{ type: 'retention', slice: { runId: run.id, selection: req!.selection, kept: [0, 1, 999999], cacheLen: 3 } }]);
  await page.waitForFunction(() => document.getElementById('error-title')!.textContent === 'Cannot show the kept tokens');
  assert.match((await page.locator('#error-detail').textContent()) ?? '', /keeps token 999999/);
  await send(page, [{ type: 'retention', slice: null, error: 'retention.bin is shorter than its index says.' }]);
  await page.waitForFunction(() => /shorter than its index/.test(document.getElementById('error-detail')!.textContent));
  await page.click('#error-dismiss');
  assert.equal(await page.locator('#error').isHidden(), true);
  assert.deepEqual(errors, []);
  await page.close();
});

test('Infinity-8B sized grid (40 x 13) and a 64x64 retention map render completely', async () => {
  const { page, errors } = await open('hc', 1280);
  let t0 = Date.now();
  await send(page, [{ type: 'profile', profile: p8b }]);
  await page.waitForFunction(() => document.querySelectorAll('svg.grid .cells rect.cell').length === 520);
  console.log(`# 40x13 grid drawn in ${Date.now() - t0} ms (logged, not asserted)`);
  const compressed = p8b.scales.filter((s) => s.compressed);
  assert.equal(
    await page.locator('svg.grid .cells rect.cell.drafter').count(),
    compressed.reduce((a, s) => a + s.roles.filter((r) => r === 'drafter').length, 0),
  );
  await page.locator('svg.grid').focus();
  t0 = Date.now();
  for (let i = 0; i < 20; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
  console.log(`# 21 cursor moves and a selection on the 40x13 grid in ${Date.now() - t0} ms (logged, not asserted)`);
  const sel = await lastOf(page, 'select');
  assert.deepEqual([sel?.selection.layer, sel?.selection.scaleIndex], [20, 12]);
  await shot(page, 'visualizer-8b-hc');

  await sendRun(page);
  await cell(page, 3, 12).click();
  t0 = Date.now();
  await answerRetention(page);
  console.log(`# 64x64 retention map (10521 tokens) drawn in ${Date.now() - t0} ms (logged, not asserted)`);
  assert.equal(await page.locator('#retention').getAttribute('data-total'), '10521');
  assert.equal(await page.locator('#retention').getAttribute('data-panels'), '13');
  assert.equal(await kept(page), run.kv.perScale[12].perLayerTokens[3]);
  await shot(page, 'visualizer-run-hc');
  assert.deepEqual(errors, []);
  await page.close();
});

test('high contrast light theme and the empty state', async () => {
  const { page, errors } = await open('hc-light');
  assert.equal(await page.locator('#grid-empty').isVisible(), true);
  await page.click('#grid-empty vscode-button[data-command="scalekv.calibrate"]');
  assert.deepEqual(await lastOf(page, 'command'), { type: 'command', command: 'scalekv.calibrate' });
  await sendRun(page);
  await cell(page, 5, 11).click();
  await answerRetention(page);
  await shot(page, 'visualizer-run-hc-light');
  assert.deepEqual(errors, []);
  await page.close();
});
