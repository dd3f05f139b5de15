/**
 * The sidebar view's page, shared by the extension host (SidebarView) and the browser tests so both
 * render the same document. Pure: no vscode import. Only the nonce'd script runs and only linked
 * stylesheets apply; the VS Code Elements it uses style themselves with constructable stylesheets.
 */
export interface SidebarHtmlOptions {
  scriptUri: string;
  styleUri: string;
  nonce: string;
  cspSource: string;
  /** codicon.css of @vscode/codicons (media/dist/codicons): the buttons' icons */
  codiconsUri?: string;
}

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function sidebarHtml(o: SidebarHtmlOptions): string {
  const csp = `default-src 'none'; style-src ${o.cspSource}; script-src 'nonce-${o.nonce}'; font-src ${o.cspSource};`;
  const codicons = o.codiconsUri ? `<link id="vscode-codicon-stylesheet" href="${attr(o.codiconsUri)}" rel="stylesheet">` : '';
  return `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
${codicons}<link href="${attr(o.styleUri)}" rel="stylesheet"></head>
<body><div id="root"></div><script nonce="${attr(o.nonce)}" src="${attr(o.scriptUri)}"></script></body></html>`;
}
