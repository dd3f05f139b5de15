/**
 * Renders a real run folder (run.json, retention.bin, image as the engine writes them) in the real
 * visualizer webview in Chromium and writes PNG screenshots: the whole panel, the grid, and the
 * retention map (beside the image) of the last compressed scale for a drafter and a refiner layer.
 *
 *   node out/test/browser/shootRun.js RUN_DIR OUT_DIR [--theme dark|light|hc|hc-light]
 *
 * RUN_DIR is the run's folder or its run.json. The run is read by the host's own readers
 * (src/views/runFolder.ts, src/views/retentionReader.ts) and posted as the visualizer panel posts it
 * ('source', 'run', and 'retention' answers to the webview's requestRetention). Prints the paths written.
 */
import { mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import type { ToWebview } from '../../src/shared/protocol';
import type { RunRecord } from '../../src/shared/types';
import { readRunImages, readRunRecord } from '../../src/views/runFolder';
import { answerRetention, launch, posted, send, serveRetention, THEME_CLASS, visualizerPage, watch, type Theme } from './harness';

const USAGE = 'usage: node out/test/browser/shootRun.js RUN_DIR OUT_DIR [--theme dark|light|hc|hc-light]';

function parseArgs(argv: string[]): { runPath: string; outDir: string; theme: Theme } {
  const pos: string[] = [];
  let theme: Theme = 'dark';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--theme') {
      const t = argv[++i];
      if (!t || !(t in THEME_CLASS)) throw new Error(`--theme takes one of ${Object.keys(THEME_CLASS).join(', ')}`);
      theme = t as Theme;
    } else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith('--')) throw new Error(`unknown option ${a}\n${USAGE}`);
    else pos.push(a);
  }
  if (pos.length !== 2) throw new Error(USAGE);
  const given = resolve(pos[0]);
  const runPath = statSync(given).isDirectory() ? join(given, 'run.json') : given;
  return { runPath, outDir: resolve(pos[1]), theme };
}

/** the last scale whose cache is compressed, with a drafter and a refiner layer there (either may be missing) */
function pickCells(run: RunRecord): { scaleIndex: number; drafter: number; refiner: number } | null {
  const scales = run.profile?.scales ?? [];
  for (let si = scales.length - 1; si >= 0; si--) {
    const s = scales[si];
    if (!s.compressed) continue;
    return { scaleIndex: si, drafter: s.roles.indexOf('drafter'), refiner: s.roles.indexOf('refiner') };
  }
  return null;
}

/** answers the webview's last requestRetention and waits until the map is drawn */
async function showRetention(page: Page): Promise<void> {
  await answerRetention(page);
  // the map redraws after a resize settles (100 ms debounce in main.ts)
  await page.waitForTimeout(250);
}

async function main(): Promise<void> {
  const { runPath, outDir, theme } = parseArgs(process.argv.slice(2));
  const runDir = dirname(runPath);
  const run = readRunRecord(runPath);
  const { images, problems } = readRunImages(runPath, run);
  mkdirSync(outDir, { recursive: true });

  const browser = await launch();
  const written: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = watch(page);
    await page.goto(visualizerPage(theme));
    await serveRetention(page, runDir, run);
    const msgs: ToWebview[] = [
      { type: 'source', state: { runPath } },
      { type: 'run', run, images },
    ];
    if (problems.length) msgs.push({ type: 'error', message: problems.join(' ') });
    await send(page, msgs);
    await page.waitForSelector('svg.grid rect.cell');
    if (run.retention) await showRetention(page);
    if (images.length) await page.waitForFunction(() => (document.getElementById('image') as HTMLImageElement).complete);

    const tag = `${basename(runDir)}-${theme}`;
    const save = async (name: string, target: Page | Locator) => {
      const p = join(outDir, `${tag}-${name}.png`);
      if ('goto' in target) {
        // an element shot scrolls its element into view, and the sticky toolbar would then cover the top
        await target.evaluate(() => window.scrollTo(0, 0));
        await target.screenshot({ path: p, fullPage: true });
      } else await target.screenshot({ path: p });
      written.push(p);
    };
    await save('panel', page);
    await save('grid', page.locator('#grid-section'));

    const cells = pickCells(run);
    if (!cells) console.error('# the run has no compressed scale in its profile: no drafter/refiner retention maps');
    else if (!run.retention) console.error('# the run did not record retention: no retention maps');
    else {
      for (const [role, layer] of [
        ['drafter', cells.drafter],
        ['refiner', cells.refiner],
      ] as const) {
        if (layer < 0) {
          console.error(`# no ${role} layer at scale ${cells.scaleIndex}`);
          continue;
        }
        const before = (await posted(page)).length;
        await page.locator(`svg.grid rect.cell[data-layer="${layer}"][data-scale="${cells.scaleIndex}"]`).click();
        await page.waitForFunction((n) => (window as unknown as { __posted: unknown[] }).__posted.length > n, before);
        await showRetention(page);
        // the click focused the grid (cursor ring) and left the pointer hovering a cell: undo both for the shots
        await page.mouse.move(0, 0);
        await page.evaluate(() => {
          (document.activeElement as HTMLElement | null)?.blur();
        });
        const note = (await page.locator('#retention-note').textContent()) ?? '';
        console.error(`# ${role} layer ${layer}, scale ${cells.scaleIndex}: ${note}`);
        await save(`retention-${role}-L${layer}-S${cells.scaleIndex}`, page.locator('#retention-section'));
        await save(`panel-${role}-L${layer}-S${cells.scaleIndex}`, page);
      }
    }
    const shown = await page.locator('#error').isVisible();
    if (shown) console.error(`# the panel shows an error: ${await page.locator('#error').innerText()}`);
    if (errors.length) console.error(`# page errors:\n${errors.join('\n')}`);
    process.exitCode = errors.length || shown ? 1 : 0;
  } finally {
    await browser.close();
  }
  for (const p of written) console.log(p);
}

main().catch((e: unknown) => {
  console.error((e as Error).message ?? e);
  process.exit(2);
});
