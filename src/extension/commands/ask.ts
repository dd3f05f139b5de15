/** Input steps several commands share. */
import * as vscode from 'vscode';

/**
 * Options every step of a several-step question takes: a step stays open when the focus leaves it (a
 * click to copy a prompt from an editor, a webview or notification taking the focus), so a half-answered
 * run is not thrown away; Escape still backs out.
 */
export const STEP = { ignoreFocusOut: true } as const;

/** asks for a KV budget as a fraction of the full cache; undefined when the user backs out */
export async function askRatio(def: number, title = 'KV budget'): Promise<number | undefined> {
  const v = await vscode.window.showInputBox({
    ...STEP,
    title,
    prompt: 'Fraction of the full KV cache to keep (e.g. 0.1 for 10%)',
    value: String(def),
    validateInput: (x) => (Number(x) > 0 && Number(x) <= 1 ? null : 'Enter a number in (0, 1].'),
  });
  return v === undefined ? undefined : Number(v);
}
