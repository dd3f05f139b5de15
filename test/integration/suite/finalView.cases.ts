/**
 * Leaves the window in the state the driver then checks on screen: the visualizer with the last run,
 * the notebook beside it scrolled to its first output, the ScaleKV sidebar, and the notification list.
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { COMMANDS } from '../../../src/shared/commandIds';
import type { RunRecord } from '../../../src/shared/types';
import { made, sleep, ui } from './context';
import { test } from './harness';

test('the final view is arranged for the on-screen checks', async () => {
  assert.ok(made.scalekvRun, 'the commands made a ScaleKV run');
  // the sidebar's run list opens a run this way
  await vscode.commands.executeCommand(COMMANDS.openRun, made.scalekvRun);
  const run = JSON.parse(readFileSync(made.scalekvRun, 'utf8')) as RunRecord;
  ui.visualizerCells = run.model.depth * run.schedule.length;
  const last = run.schedule.length - 1;
  ui.retention = { layer: 1, scaleIndex: last, cached: run.kv.perScale[last].perLayerTokens[1] };
  const nb = vscode.window.visibleNotebookEditors[0];
  if (nb) nb.revealRange(new vscode.NotebookRange(1, 2), vscode.NotebookEditorRevealType.AtTop);
  await vscode.commands.executeCommand('scalekv.sidebar.focus');
  // the driver calibrates from the palette next, with the settings' resolution: keep that quick
  await vscode.workspace.getConfiguration('scalekv').update('resolution', '0.06M', vscode.ConfigurationTarget.Workspace);
  await vscode.commands.executeCommand('notifications.showList');
  await sleep(1000);
});
