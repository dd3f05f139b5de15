/** ScaleKV: Cancel: stops the running job, if any. */
import * as vscode from 'vscode';
import type { ExtensionState } from '../state';

export function cancelCommand(state: ExtensionState) {
  return (): void => {
    if (!state.jobs.cancel()) void vscode.window.showInformationMessage('ScaleKV: nothing is running.');
  };
}
