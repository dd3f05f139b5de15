/**
 * Runs in the extension host of a VS Code that has the packaged linux-x64 .vsix installed and no
 * development copy of ScaleKV: drives the installed extension as a user would (Generate with the
 * embedded model, the visualizer on the run, the example notebook), then waits for the driver's checks.
 * Loaded as the extensionTestsPath of a probe extension (vsix.test.ts writes its package.json here).
 */
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import * as vscode from 'vscode';
import type { ScaleKVApi } from '../../../src/extension/extension';
import { PROFILE_MIME, RUN_MIME, type RunPayload, type RunRecord, type ScaleKVProfile } from '../../../src/shared/types';
import { REPORT_FILE, UI_DONE_FILE, writeJsonAtomic, type SuiteReport, type VsixScenario } from '../protocol';
import { EXTENSION_ID, ui, workspaceDir } from '../suite/context';
import { runCases, test, waitFor } from '../suite/harness';

const scenario = (): VsixScenario => JSON.parse(readFileSync(join(workspaceDir(), 'scenario.json'), 'utf8')) as VsixScenario;
let api: ScaleKVApi;
let runPath = '';

test('the installed .vsix is the ScaleKV extension that runs, with its own onnxruntime-node', async () => {
  const ext = vscode.extensions.getExtension<ScaleKVApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  assert.equal(ext.extensionPath, scenario().installedPath, 'the extension runs from the folder the .vsix was installed into');
  assert.ok(
    existsSync(join(ext.extensionPath, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1')),
  );
  api = await ext.activate();
  const registered = new Set(await vscode.commands.getCommands(true));
  for (const c of ext.packageJSON.contributes.commands as { command: string }[])
    assert.ok(registered.has(c.command), `${c.command} is registered`);
});

test('Generate with the embedded model writes the image and the run record; the engine loads onnxruntime from the .vsix', async () => {
  // the settings' defaults: the trained infinity-shapes model at its 0.25M, ScaleKV 10% with its shipped profile
  runPath = (await vscode.commands.executeCommand<string>('scalekv.generate', {
    prompts: ['a large red circle at the top left on a blue background'],
    seed: 5,
  }))!;
  assert.ok(runPath && existsSync(runPath), `Generate returned ${runPath}`);
  const run = JSON.parse(readFileSync(runPath, 'utf8')) as RunRecord;
  assert.equal(run.model.name, 'infinity-shapes');
  assert.equal(run.request.policy.name, 'scalekv');
  assert.deepEqual(run.notices ?? [], [], 'a prompt in its vocabulary, a shipped profile for its resolution: nothing to say');
  const png = readFileSync(join(dirname(runPath), run.images[0].path));
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [512, 512]);
  // the engine process is still up after the run: which libonnxruntime did it map?
  const pid = api.client().pid;
  assert.ok(pid, 'the engine process is running');
  const libs = [
    ...new Set(
      readFileSync(`/proc/${pid}/maps`, 'utf8')
        .split('\n')
        .map((l) => l.split(/\s+/).pop()!)
        .filter((f) => /libonnxruntime\.so/.test(f)),
    ),
  ];
  assert.deepEqual(libs, [
    join(scenario().installedPath, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1'),
  ]);
  ui.notes.push(`engine ${pid} runs on ${run.provider.used} with ${libs[0]}`);
  ui.sidebarText.push(run.model.name, `Runs on ${run.provider.used}`);
});

test('the visualizer opens on the run', async () => {
  await vscode.commands.executeCommand('scalekv.openRun', runPath);
  const tab = await waitFor('the visualizer tab', () =>
    vscode.window.tabGroups.all
      .flatMap((g) => g.tabs)
      .find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('scalekv.visualizer')),
  );
  assert.equal(tab.label, 'ScaleKV Visualizer');
  const run = JSON.parse(readFileSync(runPath, 'utf8')) as RunRecord;
  ui.visualizerCells = run.model.depth * run.schedule.length;
});

test('the example notebook runs on the installed extension’s controller', async () => {
  const nb = await vscode.workspace.openNotebookDocument(vscode.Uri.file(scenario().notebook));
  await vscode.window.showNotebookDocument(nb, { viewColumn: vscode.ViewColumn.Beside });
  await vscode.commands.executeCommand('notebook.selectKernel', { id: 'scalekv-jupyter-notebook', extension: EXTENSION_ID });
  const code = nb.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code);
  assert.equal(code.length, 4);
  const t0 = Date.now();
  await vscode.commands.executeCommand('notebook.cell.execute', {
    ranges: code.map((c) => ({ start: c.index, end: c.index + 1 })),
    document: nb.uri,
  });
  for (const c of code) {
    const ok = await waitFor(
      `cell ${c.index}`,
      () => {
        const s = nb.cellAt(c.index).executionSummary;
        return s?.success !== undefined && (s.timing?.endTime ?? 0) >= t0 ? s.success : undefined;
      },
      420_000,
      250,
    );
    const texts = nb
      .cellAt(c.index)
      .outputs.flatMap((o) => o.items)
      .filter((i) => !i.mime.startsWith('image/') && !i.mime.includes('scalekv'));
    assert.equal(ok, true, `cell ${c.index}: ${texts.map((i) => new TextDecoder().decode(i.data).slice(0, 300)).join('\n')}`);
  }
  const item = (i: number, mime: string) =>
    nb
      .cellAt(code[i].index)
      .outputs.flatMap((o) => o.items)
      .find((x) => x.mime === mime);
  const json = <T>(x: vscode.NotebookCellOutputItem | undefined): T => JSON.parse(new TextDecoder().decode(x!.data)) as T;
  const profile = json<ScaleKVProfile>(item(0, PROFILE_MIME));
  assert.equal(profile.format, 'scalekv-profile');
  assert.equal(profile.model.schedule.length, 10);
  for (const [i, policy] of [
    [1, 'full'],
    [2, 'scalekv'],
  ] as const) {
    const r = json<RunPayload>(item(i, RUN_MIME));
    assert.equal(r.run.request.policy.name, policy);
    assert.ok(item(i, 'image/png'), `cell ${i} shows its image`);
  }
  const md = new TextDecoder().decode(item(3, 'text/markdown')!.data);
  for (const p of ['scalekv', 'snapkv', 'h2o', 'local', 'amskv']) assert.match(md, new RegExp(`\\b${p}\\b`));
  ui.notebookProfileCells = profile.model.depth * profile.model.schedule.length;
  ui.notes.push(`example notebook: ${Math.round((Date.now() - t0) / 1000)} s`);
});

/** the libonnxruntime files the engine process has mapped */
function engineLibs(): string[] {
  const pid = api.client().pid;
  assert.ok(pid, 'the engine process is running');
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  return [...new Set(maps.map((l) => l.split(/\s+/).pop()!).filter((f) => /libonnxruntime\.so/.test(f)))];
}

test('Install CUDA Provider fetches from the (local) feed into global storage; the next engine loads it', async () => {
  const dir = await vscode.commands.executeCommand<string | undefined>('scalekv.installCudaProvider');
  assert.ok(dir, 'the command returned the installed folder');
  assert.ok(!dir.startsWith(scenario().installedPath), `${dir} is outside the installed extension`);
  for (const f of [
    'libonnxruntime_providers_cuda.so',
    'libonnxruntime_providers_shared.so',
    'onnxruntime_binding.node',
    'libonnxruntime.so.1',
  ]) {
    assert.ok(existsSync(join(dir, f)), f);
  }
  const again = await vscode.commands.executeCommand<string>('scalekv.generate', {
    prompts: ['a small cat'],
    seed: 1,
    resolution: '0.06M',
  });
  const run = JSON.parse(readFileSync(again, 'utf8')) as RunRecord;
  assert.deepEqual(engineLibs(), [join(dir, 'libonnxruntime.so.1')], 'the restarted engine runs the copy beside the provider');
  // the fake provider is no library: the run falls back, and says where the provider was
  assert.notEqual(run.provider.used, 'cuda');
  assert.ok(run.provider.reason.includes(`the CUDA provider in ${dir}`), run.provider.reason);
  ui.sidebarText.push('CUDA provider installed');
  ui.notes.push(`after Install CUDA Provider: ${run.provider.reason}`);
});

test('nothing was written into the installed extension', () => {
  const installed = scenario().installedPath;
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  const runs = walk(installed).filter((f) => f.includes(`${sep}runs${sep}`) || f.endsWith('run.json'));
  assert.deepEqual(runs, []);
});

test('the final view: the visualizer on the run, the sidebar', async () => {
  await vscode.commands.executeCommand('scalekv.openRun', runPath);
  await vscode.commands.executeCommand('scalekv.sidebar.focus');
});

export async function run(): Promise<void> {
  const dir = workspaceDir();
  const results = await runCases((l) => console.log(`[scalekv-vsix] ${l}`));
  const report: SuiteReport = { results, ui, waitingForUi: true };
  writeJsonAtomic(join(dir, REPORT_FILE), report);
  await waitFor('the driver to check the screen', () => (existsSync(join(dir, UI_DONE_FILE)) ? true : undefined), 600_000, 250).catch(
    () => undefined,
  );
}
