/** What the cases share: the scenario the driver wrote, the test workspace, and what the driver must see. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as vscode from 'vscode';
import type { ScaleKVApi } from '../../../src/extension/extension';
import { SCENARIO_FILE, type Scenario, type UiExpectations } from '../protocol';

export const EXTENSION_ID = 'scalekv.scalekv-vscode';

export function workspaceDir(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error('the integration tests need the test workspace open');
  return f.uri.fsPath;
}

export function scenario(): Scenario {
  return JSON.parse(readFileSync(join(workspaceDir(), SCENARIO_FILE), 'utf8')) as Scenario;
}

/** where the extension writes runs and profiles with default settings: <workspace>/scalekv-runs */
export function runsDir(): string {
  return join(workspaceDir(), 'scalekv-runs');
}

/** the ScaleKV run the commands made; the final view shows it */
export const made = { scalekvRun: '' };

export const ui: UiExpectations = { visualizerCells: 0, retention: null, sidebarText: [], errors: [], notebookProfileCells: 0, notes: [] };

let api: ScaleKVApi | undefined;
export async function extensionApi(): Promise<ScaleKVApi> {
  if (api) return api;
  const ext = vscode.extensions.getExtension<ScaleKVApi>(EXTENSION_ID);
  if (!ext) throw new Error(`${EXTENSION_ID} is not loaded`);
  api = await ext.activate();
  return api;
}

/** every file under dir with its size and mtime: "changes nothing on disk" compares two of these */
export function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out.push(`${relative(dir, p)} ${st.size} ${st.mtimeMs}`);
    }
  };
  walk(dir);
  return out.sort();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
