/**
 * Extension entry: wires the engine client (a separate process), the state, the commands of category
 * "ScaleKV" (one file each under ./commands), the sidebar view, the visualizer panel (restored after
 * reload) and the notebook controller. Nothing here decides anything.
 */
import { join } from 'node:path';
import * as vscode from 'vscode';
import { EngineClient } from '../engine/client';
import { ScaleKVNotebookController } from '../notebook/controller';
import { COMMANDS, type CommandName } from '../shared/commandIds';
import { SidebarView } from '../views/sidebarView';
import { registerVisualizerSerializer } from '../views/visualizerPanel';
import { COMMAND_HANDLERS } from './commands';
import { CudaProviderSetup } from './cudaCommand';
import { ExtensionState } from './state';

let client: EngineClient | undefined;

export interface ScaleKVApi {
  /** for integration tests: where the last results went */
  lastRunPath(): string | undefined;
  lastProfilePath(): string | undefined;
  client(): EngineClient;
}

export function activate(ctx: vscode.ExtensionContext): ScaleKVApi {
  const log = vscode.window.createOutputChannel('ScaleKV', { log: true });
  const cuda = new CudaProviderSetup(ctx);
  const engine = new EngineClient({
    workerPath: join(ctx.extensionPath, 'dist', 'worker.js'),
    // read at each engine start: the CUDA provider's binding once installed
    env: () => cuda.engineEnv(),
    onLog: (l, m) => (l === 'error' ? log.error(m) : log.info(m)),
  });
  client = engine;
  const sidebar = new SidebarView(ctx.extensionUri);
  const state = new ExtensionState(ctx, engine, sidebar, cuda);

  for (const name of Object.keys(COMMANDS) as CommandName[]) {
    ctx.subscriptions.push(vscode.commands.registerCommand(COMMANDS[name], COMMAND_HANDLERS[name](state) as (...a: unknown[]) => unknown));
  }
  ctx.subscriptions.push(vscode.window.registerWebviewViewProvider(SidebarView.id, sidebar));
  registerVisualizerSerializer(ctx, state.loadProfile);
  ctx.subscriptions.push(
    new ScaleKVNotebookController(engine, () => ({ ...state.settings(), outDir: state.outputRoot(), profilePath: state.profilePath })),
  );
  ctx.subscriptions.push({ dispose: () => engine.dispose() }, log);
  ctx.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('scalekv.modelPath') || e.affectsConfiguration('scalekv.executionProvider'))
        void state.describe().catch(() => undefined);
    }),
  );
  void state.describe().catch(() => undefined);

  return { lastRunPath: () => state.lastRun, lastProfilePath: () => state.profilePath, client: () => engine };
}

export function deactivate(): void {
  client?.dispose();
}
