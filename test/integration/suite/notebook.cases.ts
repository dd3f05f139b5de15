/**
 * The "ScaleKV" notebook controller running the repository's example notebook (a copy of it) in the
 * real notebook editor, plus a malformed cell and an interrupt.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { PROFILE_MIME, RUN_MIME, type RunPayload, type ScaleKVProfile } from '../../../src/shared/types';
import { EXTENSION_ID, extensionApi, scenario, sleep, ui } from './context';
import { test, waitFor } from './harness';

const CONTROLLER_ID = 'scalekv-jupyter-notebook';
const ERROR_MIME = 'application/vnd.code.notebook.error';
let notebook: vscode.NotebookDocument;

const items = (cell: vscode.NotebookCell) => cell.outputs.flatMap((o) => o.items);
const item = (cell: vscode.NotebookCell, mime: string) => items(cell).find((i) => i.mime === mime);
const json = <T>(i: vscode.NotebookCellOutputItem | undefined): T => JSON.parse(new TextDecoder().decode(i!.data)) as T;

function describeOutputs(cell: vscode.NotebookCell): string {
  return items(cell)
    .map((i) =>
      i.mime === ERROR_MIME || i.mime.startsWith('text/') || i.mime.includes('stdout')
        ? `${i.mime}: ${new TextDecoder().decode(i.data).slice(0, 500)}`
        : i.mime,
    )
    .join('\n');
}

/** appends a JSON code cell and returns it */
async function appendCell(source: string): Promise<vscode.NotebookCell> {
  const edit = new vscode.WorkspaceEdit();
  edit.set(notebook.uri, [
    vscode.NotebookEdit.insertCells(notebook.cellCount, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, source, 'json')]),
  ]);
  assert.ok(await vscode.workspace.applyEdit(edit));
  return notebook.cellAt(notebook.cellCount - 1);
}

async function execute(cells: vscode.NotebookCell[]): Promise<void> {
  await vscode.commands.executeCommand('notebook.cell.execute', {
    ranges: cells.map((c) => ({ start: c.index, end: c.index + 1 })),
    document: notebook.uri,
  });
}

/** waits until the cell's last execution finished (its summary has a success flag) */
function finished(cell: vscode.NotebookCell, timeoutMs: number, after = 0): Promise<boolean> {
  return waitFor(
    `cell ${cell.index} to finish`,
    () => {
      const s = notebook.cellAt(cell.index).executionSummary;
      return s?.success !== undefined && (s.timing?.endTime ?? 0) >= after ? s.success : undefined;
    },
    timeoutMs,
    200,
  );
}

test('notebook: the example notebook opens with the ScaleKV controller selected', async () => {
  await extensionApi();
  notebook = await vscode.workspace.openNotebookDocument(vscode.Uri.file(scenario().notebook));
  assert.equal(notebook.notebookType, 'jupyter-notebook');
  await vscode.window.showNotebookDocument(notebook, { viewColumn: vscode.ViewColumn.Beside });
  // the example's "scalekv" kernelspec makes the controller preferred; selecting it is what a user confirms
  const meta = notebook.metadata as { metadata?: { kernelspec?: { name?: string } } };
  assert.equal(meta.metadata?.kernelspec?.name, 'scalekv', 'VS Code keeps the kernelspec where the controller looks for it');
  await vscode.commands.executeCommand('notebook.selectKernel', { id: CONTROLLER_ID, extension: EXTENSION_ID });
  const code = notebook.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code);
  assert.equal(code.length, 4, 'calibrate, generate full, generate ScaleKV, compare');
});

test('notebook: running every cell emits the profile, run and image outputs', async () => {
  const code = notebook.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code);
  const t0 = Date.now();
  await execute(code);
  for (const c of code)
    assert.equal(await finished(c, 300_000, t0), true, `cell ${c.index} failed: ${describeOutputs(notebook.cellAt(c.index))}`);
  const [calib, full, scalekv, compare] = code.map((c) => notebook.cellAt(c.index));

  const prof = json<ScaleKVProfile>(item(calib, PROFILE_MIME));
  assert.equal(prof.format, 'scalekv-profile');
  assert.equal(prof.calibration?.prompts.length, 2, 'the example calibrates on 2 prompts');
  assert.equal(prof.model.schedule.length, 10, '0.25M: 10 scales');

  for (const [cell, policy] of [
    [full, 'full'],
    [scalekv, 'scalekv'],
  ] as const) {
    const run = json<RunPayload>(item(cell, RUN_MIME));
    assert.equal(run.run.request.policy.name, policy);
    assert.equal(run.images.length, 1);
    const png = item(cell, 'image/png');
    assert.ok(png, `the ${policy} cell also emits image/png`);
    assert.deepEqual([...png.data.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.equal(new DataView(png.data.buffer, png.data.byteOffset).getUint32(16), 512, 'image/png carries the 512x512 image');
    const thumb = Buffer.from(run.images[0].dataUri.split(',')[1], 'base64');
    assert.equal(thumb.readUInt32BE(16), 256, 'the run payload carries a 256x256 thumbnail');
    if (policy === 'scalekv') {
      assert.equal(run.run.profile?.createdAt, prof.createdAt, 'the ScaleKV cell used the profile this notebook calibrated');
      assert.ok(run.retention && run.retention.index.entries.length > 0, 'the ScaleKV run carries its retention record inline');
      assert.ok(run.run.kv.finalHeldBytes <= 0.1 * run.run.kv.finalFullBytes * 1.001);
    }
  }
  const md = new TextDecoder().decode(item(compare, 'text/markdown')!.data);
  for (const p of ['scalekv', 'snapkv', 'h2o', 'local', 'amskv']) assert.match(md, new RegExp(`\\b${p}\\b`));
  const compareRuns = compare.outputs
    .flatMap((o) => o.items)
    .filter((i) => i.mime === RUN_MIME)
    .map((i) => json<RunPayload>(i));
  assert.equal(compareRuns.length, 5, 'one run output per compared policy');
  assert.ok(
    compareRuns.every((r) => r.run.fidelity && r.run.fidelity.images.length === 1),
    'each compared run carries its fidelity against the full cache',
  );
  ui.notebookProfileCells = prof.model.depth * prof.model.schedule.length;
  // saved as .ipynb, binary outputs become base64: stay under the 10 MB VS Code opens in remote windows
  const ipynbBytes = code
    .flatMap((c) => notebook.cellAt(c.index).outputs.flatMap((o) => o.items))
    .reduce((a, i) => a + (i.mime.startsWith('image/') ? Math.ceil(i.data.byteLength / 3) * 4 : i.data.byteLength), 0);
  ui.notes.push(`example notebook outputs: about ${(ipynbBytes / 2 ** 20).toFixed(1)} MiB as .ipynb (7 runs at 512x512, 1 profile)`);
  assert.ok(ipynbBytes < 10 * 2 ** 20, `${ipynbBytes} bytes of outputs`);
});

test('notebook: a malformed cell fails with a clear error output', async () => {
  const cell = await appendCell('{"action": "generate", "prompts": [');
  const t0 = Date.now();
  await execute([cell]);
  assert.equal(await finished(cell, 60_000, t0), false);
  const err = json<{ message: string }>(item(notebook.cellAt(cell.index), ERROR_MIME));
  assert.match(err.message, /not a JSON run specification/);
});

test('notebook: interrupting a running cell stops it', async () => {
  const cell = await appendCell('{"action": "generate", "prompts": ["a slow one"], "resolution": "1M", "policy": "full"}');
  const t0 = Date.now();
  // executing resolves when the cell has finished, so it is not awaited before the interrupt
  const running = execute([cell]);
  await waitFor(
    'the cell to stream progress',
    () => (items(notebook.cellAt(cell.index)).some((i) => i.mime.includes('stdout')) ? true : undefined),
    60_000,
  );
  await sleep(500);
  await vscode.commands.executeCommand('notebook.cell.cancelExecution', {
    ranges: [{ start: cell.index, end: cell.index + 1 }],
    document: notebook.uri,
  });
  await running;
  assert.equal(await finished(cell, 60_000, t0), false, `the interrupted cell: ${describeOutputs(notebook.cellAt(cell.index))}`);
  const err = json<{ name: string; message: string }>(item(notebook.cellAt(cell.index), ERROR_MIME));
  assert.equal(err.name, 'E_CANCELLED');
  assert.equal(item(notebook.cellAt(cell.index), RUN_MIME), undefined, 'no run output');
  // leave the notebook as the example made it, for the screenshot
  const undo = new vscode.WorkspaceEdit();
  undo.set(notebook.uri, [vscode.NotebookEdit.deleteCells(new vscode.NotebookRange(notebook.cellCount - 2, notebook.cellCount))]);
  await vscode.workspace.applyEdit(undo);
});
