/**
 * Loads the real webview bundles in Debian's Chromium (playwright-core) with a stand-in for the
 * VS Code webview API that records posted messages and keeps state across reloads, and VS Code-like
 * theme variables for light, dark and high-contrast themes (the default themes' values, including
 * those the VS Code Elements controls read: buttons, dropdowns, checkboxes, lists).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import type { FromWebview, Selection } from '../../src/shared/protocol';
import type { RunRecord } from '../../src/shared/types';
import { readRetentionSlice } from '../../src/views/retentionReader';
import { int32ToBase64, smallRun, type SmallRun } from '../fixtures/webview/makeFixtures';
import { sidebarHtml } from '../../webview/sidebar/html';
import { visualizerHtml } from '../../webview/visualizer/html';
import { tempDir } from '../unit/engine/helpers';

export const ROOT = resolve(__dirname, '..', '..', '..');
export const SHOTS = join(ROOT, '.tmp', 'screenshots');

export type Theme = 'light' | 'dark' | 'hc' | 'hc-light';

export const THEME_CLASS: Record<Theme, string> = {
  light: 'vscode-light',
  dark: 'vscode-dark',
  hc: 'vscode-high-contrast',
  'hc-light': 'vscode-high-contrast-light',
};

const THEMES: Record<Theme, Record<string, string>> = {
  dark: {
    '--vscode-editor-background': '#1e1e1e',
    '--vscode-foreground': '#cccccc',
    '--vscode-descriptionForeground': '#9d9d9d',
    '--vscode-focusBorder': '#007fd4',
    '--vscode-charts-blue': '#3794ff',
    '--vscode-charts-orange': '#d18616',
    '--vscode-charts-green': '#89d185',
    '--vscode-panel-border': '#80808059',
    '--vscode-errorForeground': '#f48771',
    '--vscode-button-secondaryBackground': '#3a3d41',
    '--vscode-button-secondaryForeground': '#cccccc',
    '--vscode-dropdown-background': '#3c3c3c',
    '--vscode-dropdown-foreground': '#f0f0f0',
    '--vscode-button-background': '#0078d4',
    '--vscode-button-foreground': '#ffffff',
    '--vscode-icon-foreground': '#cccccc',
    '--vscode-settings-dropdownBackground': '#313131',
    '--vscode-settings-dropdownForeground': '#cccccc',
    '--vscode-settings-dropdownBorder': '#3c3c3c',
    '--vscode-checkbox-background': '#313131',
    '--vscode-checkbox-border': '#3c3c3c',
    '--vscode-list-activeSelectionBackground': '#04395e',
    '--vscode-list-activeSelectionForeground': '#ffffff',
    '--vscode-font-family': 'system-ui, sans-serif',
  },
  light: {
    '--vscode-editor-background': '#ffffff',
    '--vscode-foreground': '#3b3b3b',
    '--vscode-descriptionForeground': '#717171',
    '--vscode-focusBorder': '#0090f1',
    '--vscode-charts-blue': '#1a85ff',
    '--vscode-charts-orange': '#c27d1a',
    '--vscode-charts-green': '#388a34',
    '--vscode-panel-border': '#80808059',
    '--vscode-errorForeground': '#a1260d',
    '--vscode-button-secondaryBackground': '#e5e5e5',
    '--vscode-button-secondaryForeground': '#3b3b3b',
    '--vscode-dropdown-background': '#ffffff',
    '--vscode-dropdown-foreground': '#3b3b3b',
    '--vscode-button-background': '#005fb8',
    '--vscode-button-foreground': '#ffffff',
    '--vscode-icon-foreground': '#3b3b3b',
    '--vscode-settings-dropdownBackground': '#ffffff',
    '--vscode-settings-dropdownForeground': '#3b3b3b',
    '--vscode-settings-dropdownBorder': '#cecece',
    '--vscode-checkbox-background': '#f8f8f8',
    '--vscode-checkbox-border': '#cecece',
    '--vscode-list-activeSelectionBackground': '#e8e8e8',
    '--vscode-list-activeSelectionForeground': '#000000',
    '--vscode-font-family': 'system-ui, sans-serif',
  },
  hc: {
    '--vscode-editor-background': '#000000',
    '--vscode-foreground': '#ffffff',
    '--vscode-descriptionForeground': '#ffffff',
    '--vscode-focusBorder': '#f38518',
    '--vscode-charts-blue': '#3794ff',
    '--vscode-charts-orange': '#f38518',
    '--vscode-contrastBorder': '#6fc3df',
    '--vscode-contrastActiveBorder': '#f38518',
    '--vscode-panel-border': '#6fc3df',
    '--vscode-errorForeground': '#f48771',
    '--vscode-dropdown-background': '#000000',
    '--vscode-dropdown-foreground': '#ffffff',
    '--vscode-button-background': '#000000',
    '--vscode-button-foreground': '#ffffff',
    '--vscode-button-border': '#6fc3df',
    '--vscode-button-secondaryBackground': '#000000',
    '--vscode-button-secondaryForeground': '#ffffff',
    '--vscode-icon-foreground': '#ffffff',
    '--vscode-settings-dropdownBackground': '#000000',
    '--vscode-settings-dropdownForeground': '#ffffff',
    '--vscode-settings-dropdownBorder': '#6fc3df',
    '--vscode-checkbox-background': '#000000',
    '--vscode-checkbox-border': '#6fc3df',
    '--vscode-list-activeSelectionBackground': '#000000',
    '--vscode-list-activeSelectionForeground': '#ffffff',
    '--vscode-font-family': 'system-ui, sans-serif',
  },
  'hc-light': {
    '--vscode-editor-background': '#ffffff',
    '--vscode-foreground': '#292929',
    '--vscode-descriptionForeground': '#292929',
    '--vscode-focusBorder': '#006bbd',
    '--vscode-charts-blue': '#0f4a85',
    '--vscode-charts-orange': '#b5200d',
    '--vscode-charts-green': '#374e06',
    '--vscode-contrastBorder': '#0f4a85',
    '--vscode-contrastActiveBorder': '#b5200d',
    '--vscode-panel-border': '#0f4a85',
    '--vscode-errorForeground': '#b5200d',
    '--vscode-dropdown-background': '#ffffff',
    '--vscode-dropdown-foreground': '#292929',
    '--vscode-button-background': '#0f4a85',
    '--vscode-button-foreground': '#ffffff',
    '--vscode-button-border': '#0f4a85',
    '--vscode-button-secondaryBackground': '#ffffff',
    '--vscode-button-secondaryForeground': '#292929',
    '--vscode-icon-foreground': '#292929',
    '--vscode-settings-dropdownBackground': '#ffffff',
    '--vscode-settings-dropdownForeground': '#292929',
    '--vscode-settings-dropdownBorder': '#0f4a85',
    '--vscode-checkbox-background': '#ffffff',
    '--vscode-checkbox-border': '#0f4a85',
    '--vscode-list-activeSelectionBackground': '#0f4a85',
    '--vscode-list-activeSelectionForeground': '#ffffff',
    '--vscode-font-family': 'system-ui, sans-serif',
  },
};

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--allow-file-access-from-files',
    ],
  });
}

/**
 * What VS Code injects into a webview: the webview API (posted messages recorded in __posted, state
 * kept across reloads) and the theme class on <body>; CSP refusals are recorded in __csp.
 */
function fakeWebviewApi(dir: string, theme: Theme): string {
  const file = join(dir, 'fake-vscode.js');
  writeFileSync(
    file,
    `window.__posted = [];
     window.__csp = [];
     document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
     window.acquireVsCodeApi = () => ({
       postMessage: (m) => window.__posted.push(m),
       getState: () => { const s = sessionStorage.getItem('state'); return s ? JSON.parse(s) : undefined; },
       setState: (s) => sessionStorage.setItem('state', JSON.stringify(s)),
     });
     document.addEventListener('DOMContentLoaded', () => document.body.classList.add('${THEME_CLASS[theme]}'));`,
  );
  return file;
}

/** the page as the host serves it, plus the theme variables and the fake API ahead of the page's own script */
function webviewPage(dir: string, theme: Theme, html: string, nonce: string): string {
  const vars = Object.entries(THEMES[theme])
    .map(([k, v]) => `${k}: ${v};`)
    .join(' ');
  writeFileSync(join(dir, 'theme.css'), `body { ${vars} }`);
  const page = html
    .replace(
      '</head>',
      `<link href="file://${join(dir, 'theme.css')}" rel="stylesheet"><script nonce="${nonce}" src="file://${fakeWebviewApi(dir, theme)}"></script></head>`,
    )
    .replace('<body>', `<body class="${THEME_CLASS[theme]}">`);
  const file = join(dir, 'index.html');
  writeFileSync(file, page);
  return `file://${file}`;
}

const codiconsUri = `file://${join(ROOT, 'media', 'dist', 'codicons', 'codicon.css')}`;

/** A page with the visualizer as the extension host would load it. */
export function visualizerPage(theme: Theme): string {
  const nonce = 'testnonce';
  const html = visualizerHtml({
    scriptUri: `file://${join(ROOT, 'media', 'dist', 'visualizer.js')}`,
    styleUri: `file://${join(ROOT, 'media', 'visualizer.css')}`,
    codiconsUri,
    nonce,
    cspSource: 'file:',
  });
  return webviewPage(tempDir('web'), theme, html, nonce);
}

/** A page with the sidebar view as the extension host would load it. */
export function sidebarPage(theme: Theme): string {
  const nonce = 'testnonce';
  const html = sidebarHtml({
    scriptUri: `file://${join(ROOT, 'media', 'dist', 'sidebar.js')}`,
    styleUri: `file://${join(ROOT, 'media', 'sidebar.css')}`,
    codiconsUri,
    nonce,
    cspSource: 'file:',
  });
  return webviewPage(tempDir('sidebar'), theme, html, nonce);
}

export function rendererPage(theme: Theme): string {
  const dir = tempDir('renderer');
  const vars = Object.entries(THEMES[theme])
    .map(([k, v]) => `${k}: ${v};`)
    .join(' ');
  const file = join(dir, 'index.html');
  writeFileSync(
    file,
    `<!DOCTYPE html><html><head><style>body { ${vars} background: var(--vscode-editor-background); color: var(--vscode-foreground); font-family: system-ui; }</style></head>
     <body class="${THEME_CLASS[theme]}">${[1, 2, 3, 4, 5, 6].map((i) => `<div id="out${i}"></div>`).join('')}
     <script type="module">
       import { activate } from 'file://${join(ROOT, 'media', 'dist', 'renderer.js')}';
       window.__renderer = activate({});
       window.__ready = true;
     </script></body></html>`,
  );
  return `file://${file}`;
}

export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const p = join(SHOTS, `${name}.png`);
  await page.screenshot({ path: p, fullPage: true });
  return p;
}

/** Page errors and console errors (CSP refusals arrive there too) collected for a final assertion. */
export function watch(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** The messages the page posted to the stand-in webview API, oldest first. */
export const posted = <T = FromWebview>(page: Page): Promise<T[]> => page.evaluate(() => (window as unknown as { __posted: T[] }).__posted);

/** Posts messages to the page as the host does. */
export const send = (page: Page | Frame, msgs: unknown[]): Promise<void> =>
  page.evaluate((ms) => ms.forEach((m) => window.postMessage(m, '*')), msgs);

/** Lets the page ask the host's own retention reader for slices of the run in runDir, as the panel does. */
export async function serveRetention(page: Page, runDir: string, run: RunRecord): Promise<void> {
  await page.exposeFunction('__slice', (sel: Selection) => readRetentionSlice(runDir, run, sel));
}

/** Answers the webview's last requestRetention (through serveRetention) and waits until the map has loaded. */
export async function answerRetention(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const w = window as unknown as { __posted: FromWebview[]; __slice(s: Selection): Promise<unknown> };
    const last = w.__posted.filter((m) => m.type === 'requestRetention').pop();
    if (last) window.postMessage({ type: 'retention', slice: await w.__slice(last.selection) }, '*');
  });
  await page.waitForFunction(() => !document.getElementById('retention-note')!.textContent.startsWith('Loading'));
}

/** the CSP refusals the page's securitypolicyviolation events reported (webview pages only) */
export const cspRefusals = (page: Page): Promise<string[]> => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);

/** The small fixture run written as the engine would (run.json, retention.bin, image) for the host's reader. */
export function writeSmallRun(): { dir: string; fixture: SmallRun } {
  const dir = tempDir('fixture-run');
  const fixture = smallRun();
  writeFileSync(join(dir, 'run.json'), JSON.stringify(fixture.run));
  writeFileSync(join(dir, fixture.run.retention!.file), Buffer.from(int32ToBase64(fixture.retention), 'base64'));
  writeFileSync(join(dir, fixture.run.images[0].path), fixture.png);
  return { dir, fixture };
}

/**
 * Picks an option of a vscode-single-select from the keyboard, as a user does: focus, ArrowDown opens
 * the list on the selected option, arrows move to the option with that name, Enter picks it.
 */
export async function choose(page: Page, select: string, option: string): Promise<void> {
  const sel = page.locator(select);
  const names = (await sel.locator('vscode-option').allTextContents()).map((n) => n.trim());
  const target = names.indexOf(option);
  if (target < 0) throw new Error(`${select} has no option "${option}" (it has ${names.join(', ')})`);
  const current = await sel.evaluate((e) => (e as HTMLElement & { selectedIndex: number }).selectedIndex);
  await sel.getByRole('combobox').focus();
  // a pointer resting where the list opens would move the active option (as hover does in VS Code)
  await page.mouse.move(0, 0);
  await page.keyboard.press('ArrowDown');
  for (let i = current; i !== target; i += Math.sign(target - current))
    await page.keyboard.press(target > current ? 'ArrowDown' : 'ArrowUp');
  await page.keyboard.press('Enter');
}
