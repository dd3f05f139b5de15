/** ScaleKV: Open Run in Visualizer (the sidebar's recent runs; hidden from the palette): a run.json path. */
import type { ExtensionState } from '../state';

export function openRunCommand(state: ExtensionState) {
  return (runPath: string): void => state.openVisualizer({ runPath });
}
