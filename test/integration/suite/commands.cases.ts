/**
 * The command palette's commands driven through vscode.commands.executeCommand on the embedded default model
 * (infinity-shapes, trained; 12 layers):
 * what they write to disk, what they open, and how bad input is refused without touching anything.
 */
import * as assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { COMMANDS } from '../../../src/shared/commandIds';
import type { RunRecord, ScaleKVProfile } from '../../../src/shared/types';
import { EXTENSION_ID, extensionApi, made, runsDir, scenario, sleep, snapshot, ui, workspaceDir } from './context';
import { test, waitFor } from './harness';

/** in the default model's vocabulary */
const PROMPT = 'a large red circle at the top left on a blue background';
const PROMPT2 = 'a small green star at the bottom on a black background';
let profilePath = '';
let runPath = '';

function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${file} is not a PNG`);
  assert.equal(b.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

const config = () => vscode.workspace.getConfiguration('scalekv');

test('the extension activates and registers every contributed command', async () => {
  const api = await extensionApi();
  assert.ok(api.client(), 'activate() returns the API with the engine client');
  const contributed = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes.commands as {
    command: string;
    category: string;
  }[];
  assert.ok(contributed.length >= 9);
  for (const c of contributed) assert.equal(c.category, 'ScaleKV', `${c.command} is in category ScaleKV`);
  const registered = new Set(await vscode.commands.getCommands(true));
  const missing = contributed.map((c) => c.command).filter((c) => !registered.has(c));
  assert.deepEqual(missing, [], 'contributed commands without a handler');
});

test('Select Model accepts the embedded default and reports it', async () => {
  const ok = await vscode.commands.executeCommand<boolean>(COMMANDS.selectModel, '');
  assert.equal(ok, true);
  assert.equal(config().get('modelPath'), '');
});

test('Calibrate on the embedded model writes a profile', async () => {
  const api = await extensionApi();
  const before = Date.now();
  profilePath = (await vscode.commands.executeCommand<string>(COMMANDS.calibrate, {
    prompts: [PROMPT2, PROMPT],
    targetRatio: 0.1,
    resolution: '0.06M',
  }))!;
  assert.ok(profilePath, 'Calibrate returned the profile path');
  assert.equal(dirname(profilePath), join(runsDir(), 'profiles'), 'profiles go to the output folder');
  assert.ok(statSync(profilePath).mtimeMs >= before - 1000, 'the profile is new');
  const p = JSON.parse(readFileSync(profilePath, 'utf8')) as ScaleKVProfile;
  assert.equal(p.format, 'scalekv-profile');
  assert.equal(p.origin, 'calibration');
  assert.equal(p.model.depth, 12);
  assert.equal(p.model.schedule.length, 7, '0.06M has 7 scales');
  assert.equal(p.scales.length, 7);
  assert.deepEqual(p.calibration?.prompts, [PROMPT2, PROMPT]);
  assert.ok(p.scales.some((s) => s.roles.includes('drafter')) && p.scales.some((s) => s.roles.includes('refiner')), 'both roles occur');
  assert.equal(api.lastProfilePath(), profilePath, 'the new profile is the loaded one');
});

test('Generate with ScaleKV writes PNG images, the run record and its retention record', async () => {
  const api = await extensionApi();
  const runsBefore = new Set(existsSync(runsDir()) ? readdirSync(runsDir()) : []);
  runPath = (await vscode.commands.executeCommand<string>(COMMANDS.generate, {
    prompts: [PROMPT],
    seed: 3,
    resolution: '0.06M',
    policy: { name: 'scalekv', ratio: 0.1, windowSize: 16, poolingKernel: 5, queryMode: 'code', profilePath },
  }))!;
  assert.ok(runPath && existsSync(runPath), 'Generate returned the run record path');
  const fresh = readdirSync(runsDir()).filter((n) => !runsBefore.has(n));
  assert.equal(fresh.length, 1, 'one new run folder');
  const run = JSON.parse(readFileSync(runPath, 'utf8')) as RunRecord;
  assert.equal(run.format, 'scalekv-run');
  assert.equal(run.request.policy.name, 'scalekv');
  assert.equal(run.images.length, 1);
  const size = pngSize(join(dirname(runPath), run.images[0].path));
  assert.deepEqual(size, { width: 256, height: 256 });
  assert.ok(
    run.kv.finalHeldBytes > 0 && run.kv.finalHeldBytes <= 0.1 * run.kv.finalFullBytes * 1.001,
    `held ${run.kv.finalHeldBytes} of ${run.kv.finalFullBytes} bytes`,
  );
  assert.ok(run.retention, 'the run recorded which tokens each layer kept');
  const bin = statSync(join(dirname(runPath), run.retention.file)).size;
  const ints = run.retention.entries
    .filter((e) => e.offset >= 0)
    .reduce((a, e) => a + e.count * run.retention!.batchRows * run.retention!.heads, 0);
  assert.equal(bin, 4 * ints, 'retention.bin holds exactly the int32 positions its index names');
  assert.equal(api.lastRunPath(), runPath);
  made.scalekvRun = runPath;
  ui.sidebarText.push(run.model.name, 'scalekv 10%', basename(profilePath));
});

test('Compare Policies writes a table and opens it', async () => {
  const table = await vscode.commands.executeCommand<string>(COMMANDS.comparePolicies, {
    prompt: PROMPT,
    policies: ['scalekv', 'snapkv'],
    ratio: 0.1,
    resolution: '0.06M',
  });
  assert.ok(table && existsSync(table), 'the comparison table exists');
  const md = readFileSync(table, 'utf8');
  for (const p of ['scalekv', 'snapkv', 'full']) assert.match(md, new RegExp(`\\b${p}\\b`), `the table has a ${p} row`);
  assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, table, 'the table is opened in an editor');
});

test('Export Profile writes the loaded profile', async () => {
  const target = join(workspaceDir(), 'exported-profile.json');
  const out = await vscode.commands.executeCommand<string>(COMMANDS.exportProfile, { kind: 'profile', target });
  assert.equal(out, target);
  assert.deepEqual(JSON.parse(readFileSync(target, 'utf8')), JSON.parse(readFileSync(profilePath, 'utf8')));
});

test('Export Profile refuses the official format for a profile it cannot carry, and writes nothing', async () => {
  // the official table starts at "Scale 9": a 256x256 profile compresses earlier scales
  const target = join(workspaceDir(), 'exported-official.json');
  const out = await vscode.commands.executeCommand<string>(COMMANDS.exportProfile, { kind: 'official', target });
  assert.equal(out, undefined);
  assert.equal(existsSync(target), false);
  ui.errors.push('the official table format only carries');
});

test('Open Visualizer shows the last run in a webview panel', async () => {
  await vscode.commands.executeCommand(COMMANDS.openVisualizer);
  const tab = await waitFor('the visualizer tab', () =>
    vscode.window.tabGroups.all
      .flatMap((g) => g.tabs)
      .find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('scalekv.visualizer')),
  );
  assert.equal(tab.label, 'ScaleKV Visualizer');
});

test('the sidebar view opens', async () => {
  await vscode.commands.executeCommand('scalekv.sidebar.focus');
  // the driver reads its content; here: the view container exists and focusing it did not throw
  await sleep(500);
});

// ---------------------------------------------------------------------------------------------
// bad input: a clear error on screen, nothing changed on disk or in the settings
// ---------------------------------------------------------------------------------------------

async function refusedImport(file: string, errorFragment: string): Promise<void> {
  const api = await extensionApi();
  const loaded = api.lastProfilePath();
  const before = snapshot(workspaceDir());
  const r = await vscode.commands.executeCommand(COMMANDS.importBudget, file);
  assert.equal(r, undefined, 'the import is refused');
  assert.deepEqual(snapshot(workspaceDir()), before, 'nothing on disk changed');
  assert.equal(api.lastProfilePath(), loaded, 'the loaded profile is unchanged');
  ui.errors.push(errorFragment);
}

test('Import Budget: a truncated profile file is refused with an error', async () => {
  const bad = join(workspaceDir(), 'bad', 'truncated-profile.json');
  mkdirSync(dirname(bad), { recursive: true });
  writeFileSync(bad, readFileSync(profilePath, 'utf8').slice(0, 300));
  await refusedImport(bad, 'truncated-profile.json is not valid JSON');
});

test('Import Budget: a profile with a malformed field is refused with an error naming it', async () => {
  const bad = join(workspaceDir(), 'bad', 'malformed-profile.json');
  const p = JSON.parse(readFileSync(profilePath, 'utf8'));
  p.model.depth = 'eight';
  writeFileSync(bad, JSON.stringify(p));
  await refusedImport(bad, '"model.depth" must be a positive integer');
});

test('Import Budget: the official Infinity-2B table does not fit the embedded model', async () => {
  await refusedImport(scenario().officialTable2b, 'infinity-2b-10pct.json');
});

test('Import Budget: a profile of another schedule does not fit', async () => {
  const other = join(workspaceDir(), 'bad', 'profile-1M.json');
  const shipped = join(scenario().repoRoot, 'media', 'models', 'infinity-shapes', 'profile-0.25M-10pct.json');
  copyFileSync(shipped, other);
  // the model's schedule is the one of the resolution setting (0.25M by default): pick another
  await config().update('resolution', '0.06M', vscode.ConfigurationTarget.Workspace);
  try {
    await refusedImport(other, 'does not fit');
  } finally {
    await config().update('resolution', undefined, vscode.ConfigurationTarget.Workspace);
  }
});

test('Select Model: a folder with missing files is refused and the setting kept', async () => {
  const folder = join(workspaceDir(), 'bad', 'model-without-vae');
  mkdirSync(folder, { recursive: true });
  copyFileSync(join(scenario().repoRoot, 'media', 'models', 'tiny-infinity', 'infinity_tiny.pth'), join(folder, 'infinity_tiny.pth'));
  const before = snapshot(workspaceDir());
  const setting = config().inspect('modelPath');
  const ok = await vscode.commands.executeCommand<boolean>(COMMANDS.selectModel, folder);
  assert.equal(ok, false);
  assert.deepEqual(config().inspect('modelPath'), setting, 'the model setting is unchanged');
  assert.deepEqual(snapshot(workspaceDir()), before, 'nothing on disk changed');
  ui.errors.push('model-without-vae is missing');
});

test('Select Model: a truncated checkpoint is refused', async () => {
  const folder = join(workspaceDir(), 'bad', 'model-truncated');
  const src = join(scenario().repoRoot, 'media', 'models', 'tiny-infinity');
  mkdirSync(folder, { recursive: true });
  for (const n of readdirSync(src))
    if (!n.startsWith('profile-') && statSync(join(src, n)).isFile()) copyFileSync(join(src, n), join(folder, n));
  const t5 = readdirSync(src).find((n) => statSync(join(src, n)).isDirectory())!;
  mkdirSync(join(folder, t5));
  for (const n of readdirSync(join(src, t5))) copyFileSync(join(src, t5, n), join(folder, t5, n));
  const pth = join(folder, 'infinity_tiny.pth');
  writeFileSync(pth, readFileSync(pth).subarray(0, Math.floor(statSync(pth).size / 2)));
  const before = snapshot(workspaceDir());
  const ok = await vscode.commands.executeCommand<boolean>(COMMANDS.selectModel, folder);
  assert.equal(ok, false);
  assert.deepEqual(snapshot(workspaceDir()), before, 'nothing on disk changed');
  ui.errors.push('infinity_tiny.pth');
});

test('Cancel stops a running generation and writes no run', async () => {
  const api = await extensionApi();
  const before = snapshot(runsDir());
  const pending = vscode.commands.executeCommand<string | undefined>(COMMANDS.generate, {
    prompts: [PROMPT],
    resolution: '1M',
    policy: { name: 'full', ratio: 1, windowSize: 16, poolingKernel: 5, queryMode: 'code' },
  });
  await waitFor('the engine to start the run', () => (api.client().pid ? true : undefined));
  await sleep(1500);
  await vscode.commands.executeCommand(COMMANDS.cancel);
  assert.equal(await pending, undefined, 'a cancelled Generate returns nothing');
  assert.deepEqual(snapshot(runsDir()), before, 'no run folder or file was written');
  ui.errors.push('Generating cancelled');
});

test('a crashed engine is reported and the next run starts a new one', async () => {
  const api = await extensionApi();
  const starts = api.client().starts;
  const pending = vscode.commands.executeCommand<string | undefined>(COMMANDS.generate, {
    prompts: [PROMPT],
    resolution: '1M',
    policy: { name: 'full', ratio: 1, windowSize: 16, poolingKernel: 5, queryMode: 'code' },
  });
  const pid = await waitFor('the engine process', () => api.client().pid);
  await sleep(1500);
  process.kill(pid, 'SIGKILL');
  assert.equal(await pending, undefined, 'the crashed run returns nothing');
  ui.errors.push('Generating failed');
  const again = await vscode.commands.executeCommand<string>(COMMANDS.generate, {
    prompts: [PROMPT],
    resolution: '0.06M',
    policy: { name: 'full', ratio: 1, windowSize: 16, poolingKernel: 5, queryMode: 'code' },
  });
  assert.ok(again && existsSync(again), 'the next Generate works');
  assert.ok(api.client().starts > starts, 'a new engine process was started');
});

function basename(p: string): string {
  return p.split(/[\\/]/).pop()!;
}
