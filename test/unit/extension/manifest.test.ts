/**
 * The manifest and the code agree: the contributed commands are exactly COMMANDS (the ids the
 * extension registers, one handler each, and the webviews' buttons use), all under category
 * "ScaleKV"; every setting the code reads has a default and a description; the renderer and views
 * point at files the build produces.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { COMMAND_IDS, COMMANDS } from '../../../src/shared/commandIds';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const handlers = readFileSync(join(ROOT, 'src', 'extension', 'commands', 'index.ts'), 'utf8');
const settings = readFileSync(join(ROOT, 'src', 'extension', 'settings.ts'), 'utf8');

test('commands: contributed = COMMANDS = the handlers registered, all in category ScaleKV', () => {
  const contributed = new Set<string>(pkg.contributes.commands.map((c: { command: string }) => c.command));
  assert.deepEqual([...COMMAND_IDS].sort(), [...contributed].sort());
  assert.equal(new Set(COMMAND_IDS).size, COMMAND_IDS.length, 'no id twice');
  // activate registers COMMANDS[name] with COMMAND_HANDLERS[name] for every name (the type checks the pairing)
  const block = /COMMAND_HANDLERS[^\n]*\} = \{([^}]*)\}/.exec(handlers)?.[1] ?? '';
  const named = [...block.matchAll(/^\s*(\w+):/gm)].map((m) => m[1]);
  assert.deepEqual(named.sort(), Object.keys(COMMANDS).sort());
  for (const c of pkg.contributes.commands) assert.equal(c.category, 'ScaleKV', c.command);
  for (const want of [
    'scalekv.calibrate',
    'scalekv.generate',
    'scalekv.openVisualizer',
    'scalekv.selectModel',
    'scalekv.importBudget',
    'scalekv.exportProfile',
    'scalekv.comparePolicies',
    'scalekv.evaluate',
    'scalekv.cancel',
  ])
    assert.ok(contributed.has(want), want);
});

test('settings read by the code are contributed with defaults and descriptions', () => {
  const props = pkg.contributes.configuration.properties;
  const read = [...settings.matchAll(/c\.get<[^>]+>\('([^']+)'/g)].map((m) => `scalekv.${m[1]}`);
  assert.ok(read.length >= 8);
  for (const k of read) {
    assert.ok(props[k], `${k} is contributed`);
    assert.ok('default' in props[k], `${k} has a default`);
    assert.ok(props[k].description || props[k].markdownDescription, `${k} has a description`);
  }
});

test('the renderer, views and bundles point at files the build writes', () => {
  const r = pkg.contributes.notebookRenderer[0];
  assert.deepEqual(r.mimeTypes.sort(), [
    'application/vnd.scalekv.leaderboard+json',
    'application/vnd.scalekv.profile+json',
    'application/vnd.scalekv.run+json',
  ]);
  for (const f of [
    r.entrypoint,
    pkg.main,
    './dist/worker.js',
    './media/dist/visualizer.js',
    './media/dist/sidebar.js',
    './media/visualizer.css',
    './media/sidebar.css',
    './media/scalekv.svg',
  ]) {
    assert.ok(existsSync(join(ROOT, f)), f);
  }
  assert.equal(pkg.contributes.views.scalekv[0].type, 'webview');
});

test('the default-policy setting offers every policy the engine knows', () => {
  const names = readFileSync(join(ROOT, 'src', 'shared', 'types.ts'), 'utf8').match(
    /POLICY_NAMES: readonly PolicyName\[\] = \[([^\]]+)\]/,
  )![1];
  const engine = [...names.matchAll(/'([a-z0-9]+)'/g)].map((m) => m[1]).sort();
  assert.deepEqual([...pkg.contributes.configuration.properties['scalekv.defaultPolicy'].enum].sort(), engine);
  assert.ok(engine.includes('hack') && engine.includes('heatkv'));
});
