/** ScaleKV: Open Visualizer: the last run and the loaded profile. */
import type { ExtensionState } from '../state';

export function openVisualizerCommand(state: ExtensionState) {
  return (): void => state.openVisualizer({ runPath: state.lastRun, profilePath: state.profilePath });
}
