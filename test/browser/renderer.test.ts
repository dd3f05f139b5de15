/**
 * The notebook renderer bundle in a real browser: a profile payload draws the grid, a run payload
 * draws the retention map from its inline record and switches it with the pickers, and a malformed
 * payload renders an error box.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createEngine } from '../../src/engine/engine';
import { runPayload } from '../../src/notebook/payload';
import { PROFILE_MIME, RUN_MIME, type RunPayload } from '../../src/shared/types';
import { ctx, request } from '../unit/engine/helpers';
import { launch, rendererPage, shot } from './harness';

let browser: Browser;
let payload: RunPayload;

before(async () => {
  const engine = createEngine();
  const r = await engine.generate(request({ resolution: '0.25M', policy: { name: 'scalekv', ratio: 0.1 } }), ctx());
  await engine.dispose();
  payload = runPayload(r.runPath, r.run);
  browser = await launch();
});
after(async () => browser?.close());

test('profile, run and malformed payloads render (grid, retention map, error box)', async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 1200 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(rendererPage('dark'));
  await page.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready);
  await page.evaluate(
    ([p, run, pm, rm]) => {
      const r = (window as unknown as { __renderer: { renderOutputItem(i: unknown, e: HTMLElement): void } }).__renderer;
      r.renderOutputItem({ mime: pm, json: () => p }, document.getElementById('out1')!);
      r.renderOutputItem({ mime: rm, json: () => run }, document.getElementById('out2')!);
      r.renderOutputItem({ mime: pm, json: () => ({ format: 'nope' }) }, document.getElementById('out3')!);
    },
    [payload.run.profile, payload, PROFILE_MIME, RUN_MIME] as const,
  );
  const prof = payload.run.profile!;
  assert.equal(await page.locator('#out1 svg.grid rect.cell').count(), prof.model.depth * prof.scales.length);
  const canvas = page.locator('#out2 canvas.retention');
  const n = payload.run.schedule.length;
  const layer = prof.scales[n - 2].roles.findIndex((r) => r === 'refiner');
  await page.selectOption('#out2 select.layer', String(layer));
  assert.equal(Number(await canvas.getAttribute('data-kept')), prof.scales[n - 2].refinerBudget);
  await page.selectOption('#out2 select.scale', '1');
  assert.equal(Number(await canvas.getAttribute('data-kept')), 5, 'nothing is evicted at 2x2: all 1+4 tokens kept');
  assert.match((await page.locator('#out3 .error').textContent()) ?? '', /cannot render this output: not a ScaleKV profile/);
  assert.deepEqual(errors, []);
  await shot(page, 'renderer-dark');
  await page.close();
});
