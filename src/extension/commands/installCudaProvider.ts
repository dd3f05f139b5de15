/** ScaleKV: Install CUDA Provider (see ../cudaCommand.ts); returns the folder it installed into. */
import type { ExtensionState } from '../state';

export function installCudaProviderCommand(state: ExtensionState) {
  return async (): Promise<string | undefined> => {
    const dir = await state.cuda.install();
    state.sidebar.update({ cuda: state.cuda.state() });
    // an idle engine restarts now, so the sidebar shows the provider it then runs on
    if (dir && state.client.restartWhenIdle()) void state.describe().catch(() => undefined);
    return dir;
  };
}
