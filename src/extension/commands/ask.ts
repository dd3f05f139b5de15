/** Input steps several commands share. */
import * as vscode from 'vscode';

/** asks for a KV budget as a fraction of the full cache; undefined when the user backs out */
export async function askRatio(def: number, title = 'KV budget'): Promise<number | undefined> {
  const v = await vscode.window.showInputBox({
    title,
    prompt: 'Fraction of the full KV cache to keep (e.g. 0.1 for 10%)',
    value: String(def),
    validateInput: (x) => (Number(x) > 0 && Number(x) <= 1 ? null : 'Enter a number in (0, 1].'),
  });
  return v === undefined ? undefined : Number(v);
}
