/**
 * The visualizer bundle in a real browser with a real profile and run from the engine: the grid has a
 * cell per layer and scale with the profile's drafters, clicking and the keyboard select cells and
 * change the retention map, state survives a reload, exports produce a parseable SVG, malformed data
 * shows an error, and screenshots are taken in light, dark and high-contrast themes.
 */
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createEngine } from '../../src/engine/engine';
import type { FromWebview, Selection } from '../../src/shared/protocol';
import type { RunRecord, ScaleKVProfile } from '../../src/shared/types';
import { readRetentionSlice } from '../../src/views/retentionReader';
import { ctx, request } from '../unit/engine/helpers';
import { launch, shot, visualizerPage, type Theme } from './harness';

let browser: Browser;
let run: RunRecord;
let runPath: string;
let profile: ScaleKVProfile;
let imageUri: string;

before(async () => {
  const engine = createEngine();
  const r = await engine.generate(request({ resolution: '0.25M', policy: { name: 'scalekv', ratio: 0.1 } }), ctx());
  await engine.dispose();
  run = r.run;
  runPath = r.runPath;
  profile = run.profile!;
  imageUri = `data:image/png;base64,${require('node:fs').readFileSync(require('node:path').join(dirname(runPath), run.images[0].path)).toString('base64')}`;
  browser = await launch();
});
after(async () => browser?.close());

async function open(theme: Theme): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
  await page.goto(visualizerPage(theme));
  // answer the webview's retention requests the way the host does
  await page.exposeFunction('__slice', (sel: Selection) => readRetentionSlice(dirname(runPath), run, sel));
  return page;
}

async function sendData(page: Page): Promise<void> {
  await page.evaluate(
    ([profile, run, imageUri]) => {
      window.postMessage({ type: 'profile', profile }, '*');
      window.postMessage({ type: 'run', run, images: [{ prompt: run.images[0].prompt, dataUri: imageUri }] }, '*');
    },
    [profile, run, imageUri] as const,
  );
}

async function answerRetention(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const w = window as unknown as { __posted: FromWebview[]; __slice(s: Selection): Promise<unknown> };
    const reqs = w.__posted.filter((m) => m.type === 'requestRetention');
    const last = reqs[reqs.length - 1] as Extract<FromWebview, { type: 'requestRetention' }> | undefined;
    if (last) window.postMessage({ type: 'retention', slice: await w.__slice(last.selection) }, '*');
  });
  await page.waitForFunction(() => !document.getElementById('retention-note')!.textContent!.startsWith('Loading'));
}

const posted = (page: Page) => page.evaluate(() => (window as unknown as { __posted: FromWebview[] }).__posted);

test('the grid shows every layer x scale cell with the profile’s drafters', async () => {
  const page = await open('dark');
  await sendData(page);
  const cells = await page.locator('svg.grid rect.cell').count();
  assert.equal(cells, profile.model.depth * profile.scales.length);
  const drafters = profile.scales.filter((s) => s.compressed).reduce((a, s) => a + s.roles.filter((r) => r === 'drafter').length, 0);
  assert.equal(await page.locator('svg.grid rect.cell.drafter').count(), drafters);
  assert.equal(await page.locator('svg.grid rect.cell.full').count(), profile.scales.filter((s) => !s.compressed).length * profile.model.depth);
  assert.ok((await posted(page)).some((m) => m.type === 'ready'));
  await page.close();
});

test('clicking a cell selects it and changes the retention map', async () => {
  const page = await open('dark');
  await sendData(page);
  const n = run.schedule.length;
  const refiner = profile.scales[n - 2].roles.findIndex((r) => r === 'refiner');
  const drafter = profile.scales[n - 2].roles.findIndex((r) => r === 'drafter');
  await page.locator(`svg.grid rect.cell[data-layer="${refiner}"][data-scale="${n - 2}"]`).click();
  await answerRetention(page);
  const keptRefiner = Number(await page.locator('#retention').getAttribute('data-kept'));
  const sel = (await posted(page)).filter((m) => m.type === 'select').pop() as Extract<FromWebview, { type: 'select' }>;
  assert.deepEqual([sel.selection.layer, sel.selection.scaleIndex], [refiner, n - 2]);
  await page.locator(`svg.grid rect.cell[data-layer="${drafter}"][data-scale="${n - 2}"]`).click();
  await answerRetention(page);
  const keptDrafter = Number(await page.locator('#retention').getAttribute('data-kept'));
  assert.equal(keptRefiner, profile.scales[n - 2].refinerBudget);
  assert.equal(keptDrafter, Math.min(profile.scales[n - 2].drafterBudget, profile.scales[n - 2].cumulativeTokens));
  assert.notEqual(keptRefiner, keptDrafter);
  assert.match(await page.locator('#retention-note').textContent() ?? '', new RegExp(`keeps ${keptDrafter} of`));
  await shot(page, 'visualizer-dark');
  await page.close();
});

test('the keyboard moves the selection and the state survives a reload', async () => {
  const page = await open('light');
  await sendData(page);
  await page.locator('svg.grid rect.cell[data-layer="2"][data-scale="5"]').click();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  const sel = (await posted(page)).filter((m) => m.type === 'select').pop() as Extract<FromWebview, { type: 'select' }>;
  assert.deepEqual([sel.selection.layer, sel.selection.scaleIndex], [3, 6]);
  await page.reload();
  // no data is sent again: the restored state alone draws the grid and the selection
  await page.waitForSelector('svg.grid rect.cell.selected');
  const s = page.locator('svg.grid rect.cell.selected');
  assert.deepEqual([await s.getAttribute('data-layer'), await s.getAttribute('data-scale')], ['3', '6']);
  await answerRetention(page);
  await shot(page, 'visualizer-light');
  await page.close();
});

test('exports: SVG that parses and holds the grid, CSV with one row per cell, JSON with the run', async () => {
  const page = await open('dark');
  await sendData(page);
  await page.click('#export-svg');
  await page.click('#export-csv');
  await page.click('#export-json');
  await page.click('#export-png');
  await page.waitForFunction(() => (window as unknown as { __posted: FromWebview[] }).__posted.filter((m) => m.type === 'export').length >= 4);
  const ex = (await posted(page)).filter((m) => m.type === 'export') as Extract<FromWebview, { type: 'export' }>[];
  const svg = ex.find((e) => e.kind === 'svg')!;
  const parsed = await page.evaluate((t) => {
    const d = new DOMParser().parseFromString(t, 'image/svg+xml');
    return { error: d.querySelector('parsererror') !== null, cells: d.querySelectorAll('rect.cell').length };
  }, svg.data);
  assert.equal(parsed.error, false);
  assert.equal(parsed.cells, profile.model.depth * profile.scales.length);
  const csv = ex.find((e) => e.kind === 'csv')!.data.trim().split('\n');
  assert.equal(csv.length, 1 + profile.model.depth * profile.scales.length);
  assert.equal(JSON.parse(ex.find((e) => e.kind === 'json')!.data).run.id, run.id);
  const png = Buffer.from(ex.find((e) => e.kind === 'png')!.data, 'base64');
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  await page.close();
});

test('a malformed profile shows a clear error instead of a blank view', async () => {
  const page = await open('dark');
  await page.evaluate(() => window.postMessage({ type: 'profile', profile: { format: 'scalekv-profile', model: { depth: 4 }, scales: [{ roles: ['drafter'] }] } }, '*'));
  await page.waitForSelector('#error:not([hidden])');
  assert.match((await page.locator('#error').textContent()) ?? '', /Cannot show this data: scale 0 does not list a role for each of the 4 layers/);
  await shot(page, 'visualizer-error');
  await page.close();
});

test('high contrast theme and an Infinity-8B sized profile (40 layers x 13 scales) render completely', async () => {
  const page = await open('hc');
  const big: ScaleKVProfile = JSON.parse(JSON.stringify(profile));
  const { scaleSchedule, cumulativeTokens } = await import('../../src/model/schedule');
  const sched = scaleSchedule(1, '1M');
  const cum = cumulativeTokens(sched);
  big.model = { ...big.model, name: 'infinity-8b-shaped', depth: 40, numHeads: 28, schedule: sched };
  big.scales = sched.map((shape, si) => ({ scaleIndex: si, shape, tokensBefore: si ? cum[si - 1] : 0, cumulativeTokens: cum[si], compressed: si >= 7, drafterBudget: 900, refinerBudget: 400, roles: Array.from({ length: 40 }, (_, l) => (l < 3 ? 'drafter' : 'refiner')), asi: Array.from({ length: 40 }, (_, l) => 0.4 + l / 100) }));
  const t0 = Date.now();
  await page.evaluate((p) => window.postMessage({ type: 'profile', profile: p }, '*'), big);
  await page.waitForFunction(() => document.querySelectorAll('svg.grid rect.cell').length === 520);
  console.log(`# 40x13 grid drawn in ${Date.now() - t0} ms (not asserted)`);
  assert.equal(await page.locator('svg.grid rect.cell.drafter').count(), 3 * 6);
  await shot(page, 'visualizer-hc-8b');
  await page.close();
});
