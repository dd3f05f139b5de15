/**
 * The integration suite's entry, loaded by VS Code as the extensionTestsPath: runs the cases inside the
 * real extension host, writes the report into the test workspace, then keeps the window as the cases
 * left it until the driver has checked what is on screen, running the commands the driver asks for.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import {
  REPORT_FILE,
  SET_SETTING,
  UI_DONE_FILE,
  writeJsonAtomic,
  type ActionReply,
  type DriverAction,
  type SuiteReport,
} from '../protocol';
import { ui, workspaceDir } from './context';
import { runCases, waitFor } from './harness';
import './commands.cases';
import './notebook.cases';
import './finalView.cases';

export async function run(): Promise<void> {
  const dir = workspaceDir();
  const log = (l: string) => console.log(`[scalekv-it] ${l}`);
  const results = await runCases(log);
  const report: SuiteReport = { results, ui, waitingForUi: true };
  writeJsonAtomic(join(dir, REPORT_FILE), report);
  await waitFor(
    'the driver to check the screen',
    async () => (existsSync(join(dir, UI_DONE_FILE)) ? true : (await answerActions(dir), undefined)),
    600_000,
    250,
  ).catch((e) => log(String(e)));
}

const answered = new Set<string>();
async function answerActions(dir: string): Promise<void> {
  for (const f of readdirSync(dir).filter((n) => /^action-\d+\.json$/.test(n) && !answered.has(n))) {
    answered.add(f);
    const a = JSON.parse(readFileSync(join(dir, f), 'utf8')) as DriverAction;
    const args = a.args.map((v, i) => (a.fileArgs?.includes(i) ? vscode.Uri.file(String(v)) : v));
    let reply: ActionReply;
    try {
      // one pseudo-command: change a user setting (the theme, say) as the Settings editor would
      if (a.command === SET_SETTING)
        await vscode.workspace.getConfiguration().update(String(args[0]), args[1], vscode.ConfigurationTarget.Global);
      else await vscode.commands.executeCommand(a.command, ...args);
      reply = { ok: true };
    } catch (e) {
      reply = { ok: false, error: String((e as Error)?.stack ?? e) };
    }
    writeJsonAtomic(join(dir, `action-${a.id}.reply.json`), reply);
  }
}
