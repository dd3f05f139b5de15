/**
 * The notebook renderer bundle (an ES module, as VS Code loads it) in Chromium: a profile payload
 * draws the grid, a run payload draws image, retention map (from its inline record), grid, memory and
 * fidelity and follows the pickers and grid clicks; malformed payloads render an error box. Also one
 * run of the real engine, to keep the renderer honest to what the engine writes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createEngine } from '../../src/engine/engine';
import { runPayload } from '../../src/notebook/payload';
import { PROFILE_MIME, RUN_MIME, type RunPayload, type ScaleKVProfile } from '../../src/shared/types';
import { ctx, request } from '../unit/engine/helpers';
import { profile2B, smallPayload } from '../fixtures/webview/makeFixtures';
import { choose, launch, rendererPage, shot, watch, type Theme } from './harness';

let browser: Browser;
let p2b: ScaleKVProfile;
let payload: RunPayload;

before(async () => {
  p2b = profile2B();
  payload = smallPayload();
  browser = await launch();
});
after(async () => browser?.close());

const value = (page: Page, selector: string) => page.locator(selector).evaluate((e) => (e as HTMLElement & { value: string }).value);
const scaleName = (run: RunPayload['run'], si: number) => `${si} (${run.schedule[si].h}×${run.schedule[si].w})`;

async function render(theme: Theme, items: [string, string, unknown][]): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  const errors = watch(page);
  await page.goto(rendererPage(theme));
  await page.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready);
  await page.evaluate((list) => {
    const r = (window as unknown as { __renderer: { renderOutputItem(i: unknown, e: HTMLElement): void } }).__renderer;
    for (const [target, mime, data] of list) r.renderOutputItem({ id: target, mime, json: () => data }, document.getElementById(target)!);
  }, items);
  return { page, errors };
}

test('profile and run payloads render with the shared drawing code; pickers and grid clicks change the map', async () => {
  const { page, errors } = await render('dark', [
    ['out1', PROFILE_MIME, p2b],
    ['out2', RUN_MIME, payload],
  ]);
  assert.equal(await page.locator('#out1 svg.grid .cells rect.cell').count(), 32 * 13);
  assert.equal(
    await page.locator('#out1 svg.grid .cells rect.cell.drafter').count(),
    p2b.scales.filter((s) => s.compressed).reduce((a, s) => a + s.roles.filter((r) => r === 'drafter').length, 0),
  );
  const run = payload.run;
  const canvas = page.locator('#out2 canvas.retention');
  // opens on the last compressed scale
  assert.equal(await value(page, '#out2 .scale'), '12');
  const si = 11;
  const refiner = run.profile!.scales[si].roles.indexOf('refiner');
  await choose(page, '#out2 .scale', scaleName(run, si));
  await choose(page, '#out2 .layer', String(refiner));
  assert.equal(Number(await canvas.getAttribute('data-kept')), run.profile!.scales[si].refinerBudget);
  const drafter = run.profile!.scales[si].roles.indexOf('drafter');
  await page.locator(`#out2 svg.grid rect.cell[data-layer="${drafter}"][data-scale="${si}"]`).click();
  assert.equal(await value(page, '#out2 .layer'), String(drafter));
  assert.equal(Number(await canvas.getAttribute('data-kept')), run.profile!.scales[si].drafterBudget);
  await choose(page, '#out2 .scale', scaleName(run, 1));
  assert.equal(Number(await canvas.getAttribute('data-kept')), 5, 'nothing is evicted at 2x2: all 1+4 tokens kept');
  await choose(page, '#out2 .scale', scaleName(run, 12));
  assert.equal(await canvas.getAttribute('data-total'), '10521');
  await choose(page, '#out2 .row', 'unconditional');
  assert.equal(Number(await canvas.getAttribute('data-kept')), run.kv.perScale[12].perLayerTokens[drafter]);
  assert.equal(await page.locator('#out2 img').getAttribute('src'), payload.images[0].dataUri);
  assert.equal(await page.locator('#out2 svg.memory rect.bar-held[data-scale]').count(), 13);
  assert.equal(await page.locator('#out2 svg.agreement circle').count(), 13);
  assert.match((await page.locator('#out2 .fidelity').textContent()) ?? '', /31\.42/);
  // the stylesheet is scoped: a button outside the outputs keeps the browser's look
  const leaked = await page.evaluate(() => {
    const b = document.createElement('button');
    document.body.append(b);
    return getComputedStyle(b).borderRadius;
  });
  assert.notEqual(leaked, '2px');
  await shot(page, 'renderer-dark');
  assert.deepEqual(errors, []);
  await page.close();
});

test('malformed payloads render an error box, not an empty output', async () => {
  const truncated = { ...payload, retention: { ...payload.retention!, dataBase64: payload.retention!.dataBase64.slice(0, 4000) } };
  const noKv = JSON.parse(JSON.stringify({ ...payload, retention: undefined }));
  delete noKv.run.kv;
  const { page, errors } = await render('light', [
    ['out1', PROFILE_MIME, { format: 'nope' }],
    ['out2', RUN_MIME, truncated],
    ['out3', RUN_MIME, noKv],
    ['out4', RUN_MIME, 'not json at all'],
    ['out5', 'application/x-other', {}],
    ['out6', RUN_MIME, { ...payload, retention: undefined }],
  ]);
  const text = async (id: string) => (await page.locator(`#${id} .error`).textContent()) ?? '';
  assert.match(await text('out1'), /cannot render this output.*not a ScaleKV profile \(format is "nope"\)/);
  assert.match(await text('out2'), /reaches past the \d+ values of the data/);
  assert.match(await text('out3'), /no KV report/);
  assert.match(await text('out4'), /the payload is not an object/);
  assert.match(await text('out5'), /unknown MIME type/);
  // a run without its retention record still renders, and says why the map is missing
  assert.equal(await page.locator('#out6 .error').count(), 0);
  assert.match((await page.locator('#out6 .note').first().textContent()) ?? '', /no retention record/);
  await shot(page, 'renderer-errors-light');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a payload built from a real engine run renders its retention map', async () => {
  const engine = createEngine();
  const r = await engine.generate(request({ resolution: '0.25M', policy: { name: 'scalekv', ratio: 0.1 } }), ctx());
  await engine.dispose();
  const real = runPayload(r.runPath, r.run);
  const { page, errors } = await render('hc', [['out1', RUN_MIME, real]]);
  const prof = real.run.profile!;
  const n = real.run.schedule.length;
  const si = prof.scales.map((s) => s.compressed).lastIndexOf(true);
  const layer = prof.scales[si].roles.indexOf('refiner');
  await choose(page, '#out1 .scale', scaleName(real.run, si));
  await choose(page, '#out1 .layer', String(layer));
  assert.equal(
    Number(await page.locator('#out1 canvas.retention').getAttribute('data-kept')),
    real.run.kv.perScale[si].perLayerTokens[layer],
  );
  assert.equal(await page.locator('#out1 svg.grid .cells rect.cell').count(), prof.model.depth * n);
  await shot(page, 'renderer-engine-hc');
  assert.deepEqual(errors, []);
  await page.close();
});
