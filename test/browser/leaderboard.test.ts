/**
 * The evaluation leaderboard in Chromium, in the notebook renderer (application/vnd.scalekv.leaderboard+json)
 * and in the visualizer (a 'leaderboard' message): a table row and a plot mark per policy x ratio, one
 * shape and one theme colour per policy, marks placed by KV held (x) and PSNR (y), identical images on
 * the infinity line, exports, the state across a reload, and malformed data as a readable error.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { FromWebview } from '../../src/shared/protocol';
import { LEADERBOARD_MIME, type Leaderboard } from '../../src/shared/types';
import { LB_POLICIES, LB_RATIOS, leaderboardFixture } from '../fixtures/webview/leaderboard';
import { launch, rendererPage, shot, visualizerPage, watch, type Theme } from './harness';

let browser: Browser;
let lb: Leaderboard;

before(async () => {
  lb = leaderboardFixture();
  browser = await launch();
});
after(async () => browser?.close());

interface Mark {
  row: string;
  label: string;
  policy: string;
  ratio: number;
  shape: string;
  fill: string;
  x: number;
  y: number;
}

/** every plot mark under root with its data attributes, computed fill and position */
const marks = (page: Page, root: string): Promise<Mark[]> =>
  page.evaluate((sel) => {
    return Array.from(document.querySelectorAll<SVGPathElement>(`${sel} svg.leaderboard-plot g.series path.mark`)).map((m) => {
      const [, x, y] = /translate\(([-\d.]+),([-\d.]+)\)/.exec(m.getAttribute('transform') ?? '') ?? [];
      const d = m.dataset;
      const fill = getComputedStyle(m).fill;
      return { row: d.row!, label: d.label!, policy: d.policy!, ratio: Number(d.ratio), shape: d.shape!, fill, x: Number(x), y: Number(y) };
    });
  }, root);

function checkMarks(ms: Mark[], theme: { blue: string }): void {
  assert.equal(ms.length, LB_POLICIES.length * LB_RATIOS.length, 'one mark per policy x ratio');
  assert.deepEqual(new Set(ms.map((m) => m.row)), new Set(lb.rows.map((r) => r.key)));
  // one shape and one colour per policy, different between policies
  const byPolicy = new Map<string, Mark[]>();
  for (const m of ms) byPolicy.set(m.policy, [...(byPolicy.get(m.policy) ?? []), m]);
  for (const [p, list] of byPolicy) {
    assert.equal(new Set(list.map((m) => m.shape)).size, 1, `${p} keeps its shape`);
    assert.equal(new Set(list.map((m) => m.fill)).size, 1, `${p} keeps its colour`);
  }
  const shapes = [...byPolicy.values()].map((l) => l[0].shape);
  const fills = [...byPolicy.values()].map((l) => l[0].fill);
  assert.equal(new Set(shapes).size, LB_POLICIES.length);
  assert.equal(new Set(fills).size, LB_POLICIES.length);
  assert.ok(fills.includes(theme.blue), `the theme's chart blue is used (${fills.join(', ')})`);
  // placement: x grows with the KV held, y (downwards) shrinks with PSNR; identical images sit on top
  const row = (m: Mark) => lb.rows.find((r) => r.key === m.row)!;
  const finite = ms.filter((m) => row(m).psnr !== null);
  for (const a of finite) {
    for (const b of finite) {
      if (row(a).kvHeldRatio < row(b).kvHeldRatio) assert.ok(a.x < b.x, `${a.row} left of ${b.row}`);
      if (row(a).psnr! > row(b).psnr!) assert.ok(a.y < b.y, `${a.row} above ${b.row}`);
    }
  }
  const inf = ms.filter((m) => row(m).psnr === null);
  assert.equal(inf.length, 1);
  assert.ok(
    finite.every((m) => inf[0].y < m.y),
    'the identical row is above every finite PSNR',
  );
}

async function rendered(theme: Theme, items: [string, string, unknown][]): Promise<{ page: Page; errors: string[] }> {
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

test('notebook renderer: a table row and a plot mark per policy x ratio; malformed leaderboards render an error', async () => {
  const broken = JSON.parse(JSON.stringify(lb));
  broken.rows[2].kvHeldRatio = 'lots';
  const { page, errors } = await rendered('dark', [
    ['out1', LEADERBOARD_MIME, lb],
    ['out2', LEADERBOARD_MIME, { format: 'scalekv-run' }],
    ['out3', LEADERBOARD_MIME, broken],
  ]);
  const trs = page.locator('#out1 table.leaderboard tbody tr');
  assert.equal(await trs.count(), lb.rows.length);
  for (let i = 0; i < lb.rows.length; i++) {
    const r = lb.rows[i];
    assert.equal(await trs.nth(i).getAttribute('data-row'), r.key);
    const cells = await trs.nth(i).locator('td').allTextContents();
    assert.equal(cells[0].trim(), r.policy);
    assert.equal(cells[1], String(r.ratio));
    assert.equal(cells[2], r.psnr === null ? '∞ (identical)' : r.psnr.toFixed(2));
    assert.equal(cells[5], `${(100 * r.kvHeldRatio).toFixed(1)}%`);
    assert.equal(cells[6], `${(100 * r.kvPeakRatio).toFixed(1)}%`);
  }
  checkMarks(await marks(page, '#out1'), { blue: 'rgb(55, 148, 255)' });
  // the legend names every policy once, with the same shape as its marks
  assert.deepEqual((await page.locator('#out1 svg.leaderboard-plot .legend text').allTextContents()).sort(), [...LB_POLICIES].sort());
  assert.match((await page.locator('#out2 .error').textContent()) ?? '', /not a ScaleKV leaderboard \(format is "scalekv-run"\)/);
  assert.match((await page.locator('#out3 .error').textContent()) ?? '', /row 2 .* lacks its ratio or KV fractions/);
  await shot(page, 'renderer-leaderboard-dark');
  assert.deepEqual(errors, []);
  await page.close();
});

test('visualizer: the leaderboard section shows table and plot in the theme, exports, and survives a reload', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = watch(page);
  await page.goto(visualizerPage('light'));
  assert.equal(await page.locator('#leaderboard-section').isHidden(), true, 'hidden until there is a leaderboard');
  await page.evaluate((l) => window.postMessage({ type: 'leaderboard', leaderboard: l }, '*'), lb);
  await page.waitForSelector('#leaderboard-plot svg.leaderboard-plot');
  assert.equal(await page.locator('#leaderboard-table table.leaderboard tbody tr').count(), lb.rows.length);
  checkMarks(await marks(page, '#leaderboard-plot'), { blue: 'rgb(26, 133, 255)' });
  await page.click('#export-leaderboard-svg');
  await page.click('#export-leaderboard-csv');
  type Posting = { __posted: FromWebview[] };
  await page.waitForFunction(() => (window as unknown as Posting).__posted.filter((m) => m.type === 'export').length >= 2);
  const all = await page.evaluate(() => (window as unknown as Posting).__posted);
  const ex = all.filter((m): m is Extract<FromWebview, { type: 'export' }> => m.type === 'export');
  const svg = ex.find((e) => e.kind === 'svg')!.data;
  assert.equal((svg.match(/class="mark"/g) ?? []).length, lb.rows.length + LB_POLICIES.length, 'a mark per row plus the legend');
  assert.match(svg, /fill: rgb\(26, 133, 255\)/, 'theme colours are written into the file');
  assert.equal(/style="[^"]*var\(--/.test(svg), false);
  assert.equal(
    ex
      .find((e) => e.kind === 'csv')!
      .data.trim()
      .split('\n').length,
    1 + lb.rows.length,
  );
  await shot(page, 'visualizer-leaderboard-light');
  await page.reload();
  await page.waitForSelector('#leaderboard-plot svg.leaderboard-plot');
  assert.equal((await marks(page, '#leaderboard-plot')).length, lb.rows.length);
  await page.evaluate(() => window.postMessage({ type: 'leaderboard', leaderboard: { format: 'nope' } }, '*'));
  assert.match((await page.locator('#error-detail').textContent()) ?? '', /not a ScaleKV leaderboard/);
  assert.equal(await page.locator('#leaderboard-section').isHidden(), true);
  assert.deepEqual(errors, []);
  await page.close();
});
