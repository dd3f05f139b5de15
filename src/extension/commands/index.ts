/**
 * One handler per contributed command, keyed like COMMANDS (src/shared/commandIds.ts): the compiler
 * refuses a command id without a handler, and activate registers exactly these.
 */
import type { CommandName } from '../../shared/commandIds';
import type { ExtensionState } from '../state';
import { calibrateCommand } from './calibrate';
import { cancelCommand } from './cancel';
import { comparePoliciesCommand } from './comparePolicies';
import { evaluateCommand } from './evaluate';
import { exportProfileCommand } from './exportProfile';
import { generateCommand } from './generate';
import { importBudgetCommand } from './importBudget';
import { installCudaProviderCommand } from './installCudaProvider';
import { openRunCommand } from './openRun';
import { openVisualizerCommand } from './openVisualizer';
import { selectModelCommand } from './selectModel';

// arguments come from executeCommand callers, so each handler states its own
type Handler = (...args: never[]) => unknown;

export const COMMAND_HANDLERS: { [K in CommandName]: (state: ExtensionState) => Handler } = {
  generate: generateCommand,
  calibrate: calibrateCommand,
  openVisualizer: openVisualizerCommand,
  selectModel: selectModelCommand,
  importBudget: importBudgetCommand,
  exportProfile: exportProfileCommand,
  comparePolicies: comparePoliciesCommand,
  evaluate: evaluateCommand,
  cancel: cancelCommand,
  openRun: openRunCommand,
  installCudaProvider: installCudaProviderCommand,
};
