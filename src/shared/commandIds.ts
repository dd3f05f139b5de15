/**
 * ScaleKV's own command ids, as package.json contributes them (a unit test keeps the two equal).
 * Webviews may ask the host to run these and nothing else: a webview showing a hostile file must not
 * be able to reach other extensions' commands or VS Code's (opening terminals, installing extensions).
 */
export const COMMAND_IDS = [
  'scalekv.generate',
  'scalekv.calibrate',
  'scalekv.openVisualizer',
  'scalekv.selectModel',
  'scalekv.importBudget',
  'scalekv.exportProfile',
  'scalekv.comparePolicies',
  'scalekv.cancel',
  'scalekv.openRun',
] as const;

export type CommandId = (typeof COMMAND_IDS)[number];

const KNOWN = new Set<string>(COMMAND_IDS);

export function isScaleKVCommand(id: unknown): id is CommandId {
  return typeof id === 'string' && KNOWN.has(id);
}
