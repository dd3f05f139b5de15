/**
 * The visualizer page, shared by the extension host (WebviewPanel) and the browser tests so both
 * render the same document. Element ids here are the contract with main.ts.
 */
export interface VisualizerHtmlOptions {
  scriptUri: string;
  styleUri: string;
  nonce: string;
  cspSource: string;
}

export function visualizerHtml(o: VisualizerHtmlOptions): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${o.cspSource} data:; style-src ${o.cspSource}; script-src 'nonce-${o.nonce}'; font-src ${o.cspSource};">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${o.styleUri}" rel="stylesheet">
<title>ScaleKV Visualizer</title>
</head>
<body>
<header class="toolbar">
  <h1 id="title">ScaleKV</h1>
  <span class="spacer"></span>
  <button id="export-svg" title="Export the grid as SVG">SVG</button>
  <button id="export-png" title="Export the grid as PNG">PNG</button>
  <button id="export-json" title="Export the profile and run as JSON">JSON</button>
  <button id="export-csv" title="Export the grid as CSV">CSV</button>
</header>
<div id="error" class="error" role="alert" hidden></div>
<main>
  <section id="grid-section" aria-labelledby="grid-heading">
    <h2 id="grid-heading">Drafters and refiners by layer and scale</h2>
    <div id="legend" class="legend"></div>
    <div id="grid"></div>
    <div id="hover" class="hover" aria-live="polite"></div>
  </section>
  <section id="retention-section" aria-labelledby="retention-heading">
    <h2 id="retention-heading">Token retention <span id="selection-label"></span></h2>
    <div class="controls">
      <label>Head <select id="head"></select></label>
      <label>Row <select id="row"><option value="0">conditional</option><option value="1">unconditional</option></select></label>
      <button id="export-retention-png" title="Export the retention map as PNG">PNG</button>
    </div>
    <div class="retention-row">
      <canvas id="retention" role="img"></canvas>
      <figure id="image-figure"><img id="image" alt="generated image"><figcaption id="image-caption"></figcaption></figure>
    </div>
    <div id="retention-note" class="note"></div>
  </section>
  <section id="memory-section" aria-labelledby="memory-heading">
    <h2 id="memory-heading">Memory and fidelity</h2>
    <div class="memory-row"><div id="memory"></div><div id="layer-memory"></div></div>
    <div id="fidelity"></div>
  </section>
</main>
<script nonce="${o.nonce}" src="${o.scriptUri}"></script>
</body>
</html>`;
}
