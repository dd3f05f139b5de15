/**
 * The ids of the commands ScaleKV contributes (package.json contributes.commands; the manifest test
 * keeps the two equal). Registration (src/extension/commands), the sidebar and visualizer buttons and
 * the integration suite use these, so a renamed or added command cannot drift between them. Pure: the
 * webviews import it too.
 *
 * Webviews may ask the host to run these and nothing else (src/views/webviewCommand.ts): a webview
 * showing a hostile file must not be able to reach other extensions' commands or VS Code's (opening
 * terminals, installing extensions).
 */
export const COMMANDS = {
  generate: 'scalekv.generate',
  calibrate: 'scalekv.calibrate',
  openVisualizer: 'scalekv.openVisualizer',
  selectModel: 'scalekv.selectModel',
  importBudget: 'scalekv.importBudget',
  exportProfile: 'scalekv.exportProfile',
  comparePolicies: 'scalekv.comparePolicies',
  evaluate: 'scalekv.evaluate',
  cancel: 'scalekv.cancel',
  openRun: 'scalekv.openRun',
  installCudaProvider: 'scalekv.installCudaProvider',
} as const;

export type CommandName = keyof typeof COMMANDS;
export type CommandId = (typeof COMMANDS)[CommandName];

export const COMMAND_IDS: readonly CommandId[] = Object.values(COMMANDS);

const KNOWN = new Set<string>(COMMAND_IDS);

export function isScaleKVCommand(id: unknown): id is CommandId {
  return typeof id === 'string' && KNOWN.has(id);
}
