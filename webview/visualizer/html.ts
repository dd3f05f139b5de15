/**
 * The visualizer page, shared by the extension host (WebviewPanel) and the browser tests so both
 * render the same document. Pure: no vscode import. The element ids are the contract with main.ts
 * (listed there). Nothing inline runs or styles: the CSP allows only the nonce'd script and the
 * linked stylesheets; the controls are VS Code Elements (webview/shared/elements.ts), whose styles
 * are constructable stylesheets and need no 'unsafe-inline'.
 */
import { COMMANDS } from '../../src/shared/commandIds';
export interface VisualizerHtmlOptions {
  scriptUri: string;
  styleUri: string;
  nonce: string;
  cspSource: string;
  /** codicon.css of @vscode/codicons (media/dist/codicons); the buttons' icons need it, their words do not */
  codiconsUri?: string;
}

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** A VS Code secondary button with a codicon; extra is further attributes (ids, data-*). */
function button(label: string, icon: string, extra = ''): string {
  return `<vscode-button secondary icon="${icon}" ${extra}>${label}</vscode-button>`;
}

/** Export buttons of one figure: data-figure names it, data-export the format; each is named for what it exports. */
function exportButtons(figure: string, kinds: string[], what: string): string {
  const icon = { svg: 'file-media', png: 'device-camera', csv: 'table', json: 'json' } as Record<string, string>;
  return `<span class="figure-actions" role="group" aria-label="Export ${what}">${kinds
    .map((k) => {
      const name = `Export ${what} as ${k.toUpperCase()}`;
      return button(
        k.toUpperCase(),
        icon[k],
        `id="export-${figure}-${k}" data-figure="${figure}" data-export="${k}" title="${name}" aria-label="${name}"`,
      );
    })
    .join('')}</span>`;
}

export function visualizerHtml(o: VisualizerHtmlOptions): string {
  const csp = `default-src 'none'; img-src ${o.cspSource} data:; style-src ${o.cspSource}; script-src 'nonce-${o.nonce}'; font-src ${o.cspSource};`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${o.codiconsUri ? `<link id="vscode-codicon-stylesheet" href="${attr(o.codiconsUri)}" rel="stylesheet">\n` : ''}<link href="${attr(o.styleUri)}" rel="stylesheet">
<title>ScaleKV Visualizer</title>
</head>
<body>
<header class="toolbar">
  <h1 id="title">ScaleKV</h1>
  <span id="subtitle" class="subtitle"></span>
  <span class="spacer"></span>
  ${button('JSON', 'json', 'id="export-json" data-export="json" title="Export the profile, run, selection and retention slice as JSON" aria-label="Export everything shown as JSON"')}
</header>
<div id="error" class="error" role="alert" hidden>
  <span class="codicon codicon-error" aria-hidden="true"></span>
  <div><strong id="error-title">Cannot show this data</strong><div id="error-detail"></div></div>
  ${button('Dismiss', 'close', 'id="error-dismiss" title="Dismiss"')}
</div>
<main id="content">
  <section id="leaderboard-section" aria-labelledby="leaderboard-heading" hidden>
    <div class="section-head"><h2 id="leaderboard-heading">Leaderboard: memory against fidelity</h2>${exportButtons('leaderboard', ['svg', 'png', 'csv'], 'the leaderboard plot')}</div>
    <div class="figure-box"><div id="leaderboard-plot"></div></div>
    <div id="leaderboard-table"></div>
  </section>
  <section id="grid-section" aria-labelledby="grid-heading">
    <div class="section-head"><h2 id="grid-heading">Drafters and refiners by layer and scale</h2>${exportButtons('grid', ['svg', 'png', 'csv'], 'the grid')}</div>
    <div id="grid-empty" class="empty" hidden>
      <p>No profile loaded. Calibrate the model, import an official budget table, or open a ScaleKV run.</p>
      ${button('Calibrate', 'beaker', `data-command="${COMMANDS.calibrate}"`)}
      ${button('Import Budget', 'cloud-download', `data-command="${COMMANDS.importBudget}"`)}
      ${button('Generate', 'sparkle', `data-command="${COMMANDS.generate}"`)}
    </div>
    <div id="grid"></div>
    <div id="hover" class="hover" aria-live="polite"></div>
  </section>
  <section id="retention-section" aria-labelledby="retention-heading">
    <div class="section-head"><h2 id="retention-heading">Token retention <span id="selection-label" class="subtitle"></span></h2>${exportButtons('retention', ['svg', 'png', 'csv'], 'the retention map')}</div>
    <div class="controls">
      <vscode-label for="head">Head</vscode-label><vscode-single-select id="head" label="Head"></vscode-single-select>
      <vscode-label for="row">Row</vscode-label><vscode-single-select id="row" label="Row"><vscode-option value="0">conditional</vscode-option><vscode-option value="1">unconditional</vscode-option></vscode-single-select>
      <vscode-checkbox id="show-image" checked label="Show the image"></vscode-checkbox>
      <span class="key"><span class="swatch kept"></span>kept</span><span class="key"><span class="swatch evicted"></span>evicted</span>
      <vscode-progress-ring id="retention-loading" aria-label="Loading the kept tokens" hidden></vscode-progress-ring>
    </div>
    <div class="retention-row">
      <div id="retention-wrap"><canvas id="retention" role="img" aria-label="Retention map"></canvas></div>
      <figure id="image-figure" hidden><img id="image" alt="generated image"><figcaption id="image-caption"></figcaption></figure>
    </div>
    <div id="retention-note" class="note" aria-live="polite"></div>
  </section>
  <section id="memory-section" aria-labelledby="memory-heading">
    <div class="section-head"><h2 id="memory-heading">Memory and fidelity</h2></div>
    <div id="memory-note" class="note"></div>
    <div class="memory-row">
      <div class="figure-box"><div class="figure-bar">${exportButtons('memory', ['svg', 'png', 'csv'], 'KV memory per scale')}</div><div id="memory"></div></div>
      <div class="figure-box"><div class="figure-bar">${exportButtons('layer-memory', ['svg', 'png'], 'KV memory per layer')}</div><div id="layer-memory"></div></div>
      <div class="figure-box" id="agreement-box" hidden><div class="figure-bar">${exportButtons('agreement', ['svg', 'png', 'csv'], 'token agreement')}</div><div id="agreement"></div></div>
    </div>
    <div id="fidelity"></div>
  </section>
</main>
<script nonce="${attr(o.nonce)}" src="${attr(o.scriptUri)}"></script>
</body>
</html>`;
}
