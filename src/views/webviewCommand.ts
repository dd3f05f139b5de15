/**
 * Checks a webview's request to run a command: only ScaleKV's own ids (src/shared/commandIds.ts), with
 * at most a few plain arguments (the sidebar passes a run's path to scalekv.openRun).
 */
import { isScaleKVCommand, type CommandId } from '../shared/commandIds';

export type CheckedCommand = { id: CommandId; args: (string | number | boolean | null)[] } | { refused: string };

const MAX_ARGS = 4;

export function checkWebviewCommand(command: unknown, args?: unknown): CheckedCommand {
  if (!isScaleKVCommand(command)) {
    const shown = typeof command === 'string' ? `'${command.slice(0, 80)}'` : typeof command;
    return { refused: `a webview asked to run the command ${shown}, which is not one of ScaleKV's own; it was not run.` };
  }
  if (args === undefined) return { id: command, args: [] };
  const plain = (x: unknown) => x === null || typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
  if (!Array.isArray(args) || args.length > MAX_ARGS || !args.every(plain)) {
    return { refused: `a webview asked to run ${command} with arguments that are not a short list of plain values; it was not run.` };
  }
  return { id: command, args: args };
}
