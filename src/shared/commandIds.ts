/**
 * The ids of the commands ScaleKV contributes (package.json contributes.commands). Registration
 * (src/extension/commands), the sidebar and visualizer buttons, and the manifest test use these, so a
 * renamed or added command cannot drift between them. Pure: the webviews import it too.
 */
export const COMMANDS = {
  generate: 'scalekv.generate',
  calibrate: 'scalekv.calibrate',
  openVisualizer: 'scalekv.openVisualizer',
  selectModel: 'scalekv.selectModel',
  importBudget: 'scalekv.importBudget',
  exportProfile: 'scalekv.exportProfile',
  comparePolicies: 'scalekv.comparePolicies',
  cancel: 'scalekv.cancel',
  openRun: 'scalekv.openRun',
} as const;

export type CommandName = keyof typeof COMMANDS;

export const COMMAND_IDS: readonly string[] = Object.values(COMMANDS);
