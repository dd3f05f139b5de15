import { renameSync, writeFileSync } from 'node:fs';

/**
 * What the integration test's driver (a node:test file outside VS Code) and its suite (running inside
 * VS Code's extension host) tell each other, through files in the test workspace.
 */

/** written by the driver into the workspace before VS Code starts */
export interface Scenario {
  /** the repository root, loaded as the extension under development */
  repoRoot: string;
  /** an official ScaleKV budget table for Infinity-2B (a profile for another model) */
  officialTable2b: string;
  /** the example notebook, copied into the workspace so running it changes nothing in the repo */
  notebook: string;
}

export interface CaseResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

/** what the driver must then find on screen */
export interface UiExpectations {
  /** layer x scale cells the visualizer panel's grid must draw */
  visualizerCells: number;
  /** a grid cell the driver clicks in the visualizer, and the number of cached tokens the retention map must then show */
  retention: { layer: number; scaleIndex: number; cached: number } | null;
  /** text the sidebar view must show (model, profile, runs) */
  sidebarText: string[];
  /** error notifications, by a fragment of their text, that bad input must have shown */
  errors: string[];
  /** cells of the layer x scale grid the notebook renderer must draw for the calibrate cell's profile */
  notebookProfileCells: number;
  /** measurements the cases made, printed by the driver */
  notes: string[];
}

/** written by the suite into the workspace as results.json */
export interface SuiteReport {
  results: CaseResult[];
  ui: UiExpectations;
  /** the suite waits for ui-checked.json (the driver's DOM checks) before letting VS Code go */
  waitingForUi: boolean;
}

/**
 * After the report, the driver can ask the suite to run a command in the extension host (to open a
 * file the way a user would, say): it writes action-<id>.json, the suite answers action-<id>.reply.json.
 */
export interface DriverAction {
  id: number;
  command: string;
  args: unknown[];
  /** indices of args that are file paths to pass as vscode.Uri */
  fileArgs?: number[];
}

export interface ActionReply {
  ok: boolean;
  error?: string;
}

/** the action that updates a user setting: args [key, value] */
export const SET_SETTING = 'scalekv-it.setSetting';

export const SCENARIO_FILE = 'scenario.json';
export const REPORT_FILE = 'results.json';
export const UI_DONE_FILE = 'ui-checked.json';

/** the other side polls for these files: it must never see one half written */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileSync(`${path}.partial`, JSON.stringify(value, null, 2));
  renameSync(`${path}.partial`, path);
}

/** the .vsix install test (vsix.test.ts and vsix/suite.ts): what the driver installed and copied */
export interface VsixScenario {
  /** the folder VS Code unpacked the .vsix into */
  installedPath: string;
  /** the example notebook, copied into the workspace */
  notebook: string;
}
