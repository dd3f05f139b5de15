/**
 * The integration suite's entry, loaded by VS Code as the extensionTestsPath: runs the cases inside the
 * real extension host, writes the report into the test workspace, then keeps the window as the cases
 * left it until the driver has checked what is on screen.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPORT_FILE, UI_DONE_FILE, type SuiteReport } from '../protocol';
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
  writeFileSync(join(dir, REPORT_FILE), JSON.stringify(report, null, 2));
  await waitFor('the driver to check the screen', () => (existsSync(join(dir, UI_DONE_FILE)) ? true : undefined), 300_000, 250).catch((e) => log(String(e)));
}
