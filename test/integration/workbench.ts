/**
 * Starts the real VS Code that test/integration/installVsCode.mjs installed (code-server's VS Code
 * server on loopback, with a fresh user-data and extensions folder) and opens its workbench in Debian's
 * Chromium, with this repository loaded as the extension under development and a suite module run in
 * the extension host, as @vscode/test-electron does on the desktop. The URL's payload carries the
 * development options; VS Code's server honours them when started with enable-smoke-test-driver.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { waitFor } from './suite/harness';

export const ROOT = resolve(__dirname, '..', '..', '..');
const VSCODE_TEST = join(ROOT, '.vscode-test');

/** what installVsCode.mjs installed: versions, and the Node 24 binary and code-server entry to run */
export interface InstalledVsCode {
  node: string;
  codeServer: string;
  nodeBin: string;
  entry: string;
}

export function codeServerInstalled(): InstalledVsCode | null {
  const ready = join(VSCODE_TEST, 'ready.json');
  if (!existsSync(ready)) return null;
  const r = JSON.parse(readFileSync(ready, 'utf8')) as InstalledVsCode;
  if (!r.nodeBin || !r.entry) return null;
  const abs = { ...r, nodeBin: join(VSCODE_TEST, r.nodeBin), entry: join(VSCODE_TEST, r.entry) };
  return existsSync(abs.nodeBin) && existsSync(abs.entry) ? abs : null;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** user settings that keep the window quiet and deterministic: no start page, no trust prompt */
const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'git.enabled': false,
  'workbench.colorTheme': 'Default Dark Modern',
  // the quick input's close animation marks its widget inert; a multi-step prompt that shows its next
  // step during that animation stayed inert for 30 s in CI, so typing into it timed out
  'workbench.reduceMotion': 'on',
};

export interface Workbench {
  page: Page;
  server: ChildProcess;
  serverLog: string[];
  /** console errors of the workbench page */
  pageErrors: string[];
  /** loads the workbench again, as a window reload does, with the extension but without the suite */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Installs a .vsix as a user would (`--install-extension`) into the extensions folder that openWorkbench
 * then uses for the same state folder; returns the folder VS Code unpacked it into.
 */
export function installVsix(vsc: InstalledVsCode, state: string, vsix: string, extensionId: string): string {
  const extensions = join(state, 'extensions');
  const r = spawnSync(
    vsc.nodeBin,
    [vsc.entry, '--user-data-dir', join(state, 'user-data'), '--extensions-dir', extensions, '--install-extension', vsix],
    {
      env: { ...process.env, XDG_CONFIG_HOME: join(state, 'xdg'), XDG_DATA_HOME: join(state, 'xdg') },
      encoding: 'utf8',
      timeout: 180_000,
    },
  );
  const folder = existsSync(extensions)
    ? readdirSync(extensions).find((n) => n.toLowerCase().startsWith(`${extensionId.toLowerCase()}-`))
    : undefined;
  if (r.status !== 0 || !folder)
    throw new Error(`code-server --install-extension ${vsix} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return join(extensions, folder);
}

export async function openWorkbench(
  vsc: InstalledVsCode,
  opts: {
    workspace: string;
    state: string;
    suite: string;
    theme?: string;
    /** the extension under development; default: this repository */
    developmentPath?: string;
    /** more environment for VS Code's server and its extension host */
    env?: NodeJS.ProcessEnv;
  },
): Promise<Workbench> {
  const port = await freePort();
  const userData = join(opts.state, 'user-data');
  mkdirSync(join(userData, 'User'), { recursive: true });
  writeFileSync(
    join(userData, 'User', 'settings.json'),
    JSON.stringify({ ...USER_SETTINGS, ...(opts.theme ? { 'workbench.colorTheme': opts.theme } : {}) }, null, 2),
  );
  const config = join(opts.state, 'code-server.yaml');
  writeFileSync(config, 'auth: none\n');
  const args = [
    vsc.entry,
    '--config',
    config,
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--user-data-dir',
    userData,
    '--extensions-dir',
    join(opts.state, 'extensions'),
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--vscode-option',
    'enable-smoke-test-driver',
  ];
  const server = spawn(vsc.nodeBin, args, {
    env: { ...process.env, ...opts.env, XDG_CONFIG_HOME: join(opts.state, 'xdg'), XDG_DATA_HOME: join(opts.state, 'xdg') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const serverLog: string[] = [];
  const onData = (d: Buffer) => serverLog.push(...String(d).split('\n').filter(Boolean));
  server.stdout.on('data', onData);
  server.stderr.on('data', onData);
  const exited = new Promise<never>((_, rej) =>
    server.once('exit', (code) => rej(new Error(`code-server exited with ${code}:\n${serverLog.slice(-30).join('\n')}`))),
  );
  exited.catch(() => undefined); // after start-up, an exit is noticed by the caller's checks
  await Promise.race([
    exited,
    new Promise<void>((res, rej) => {
      const t0 = Date.now();
      const iv = setInterval(() => {
        if (serverLog.some((l) => l.includes('HTTP server listening'))) {
          clearInterval(iv);
          res();
        } else if (Date.now() - t0 > 60_000) {
          clearInterval(iv);
          rej(new Error(`code-server did not start in 60 s:\n${serverLog.join('\n')}`));
        }
      }, 100);
    }),
  ]);

  const authority = `127.0.0.1:${port}`;
  const remote = (p: string) => `vscode-remote://${authority}${p}`;
  const url = (withSuite: boolean) => {
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(opts.developmentPath ?? ROOT)],
      ...(withSuite ? [['extensionTestsPath', remote(opts.suite)]] : []),
    ]);
    return `http://${authority}/?folder=${encodeURIComponent(opts.workspace)}&payload=${encodeURIComponent(payload)}`;
  };
  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, reducedMotion: 'reduce' });
    const pageErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text().slice(0, 500));
    });
    await page.goto(url(true));
    const b = browser;
    return {
      page,
      server,
      serverLog,
      pageErrors,
      async reload() {
        await page.goto(url(false));
      },
      async close() {
        await b.close().catch(() => undefined);
        server.kill('SIGTERM');
        await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
      },
    };
  } catch (e) {
    await browser?.close().catch(() => undefined);
    server.kill('SIGKILL');
    throw e;
  }
}

/** the webview frame (VS Code nests each webview's page in an inner iframe) holding selector */
export function frameWith(page: Page, selector: string, timeoutMs = 30_000): Promise<Frame> {
  return waitFor(
    `a webview frame with ${selector}`,
    async () => {
      for (const f of page.frames()) {
        if (f === page.mainFrame()) continue;
        if (
          (await f
            .locator(selector)
            .count()
            .catch(() => 0)) > 0
        )
          return f;
      }
      return undefined;
    },
    timeoutMs,
    300,
  ).catch(async (e) => {
    // say what the frames held instead
    const seen = await Promise.all(
      page
        .frames()
        .filter((f) => f !== page.mainFrame())
        .map(
          async (f) =>
            `${f.url().slice(0, 120)}: ${(
              (await f
                .locator('body')
                .innerHTML({ timeout: 1000 })
                .catch(() => '?')) ?? ''
            )
              .replace(/\s+/g, ' ')
              .slice(0, 160)}`,
        ),
    );
    throw new Error(`${(e as Error).message}\nframes:\n${seen.join('\n')}`);
  });
}
