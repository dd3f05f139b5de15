/** Reads VS Code theme colours (CSS variables set on the webview's body) for canvas drawing and exports. */
export function themeColour(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

/** Inline the computed colours of an SVG subtree so an exported file looks the same outside VS Code. */
export function inlineStyles(svg: SVGSVGElement): string {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const src = svg.querySelectorAll('*');
  const dst = clone.querySelectorAll('*');
  src.forEach((el, i) => {
    const cs = getComputedStyle(el);
    const d = dst[i] as SVGElement;
    for (const prop of ['fill', 'stroke', 'stroke-width', 'font-family', 'font-size', 'opacity']) {
      const v = cs.getPropertyValue(prop);
      if (v) d.style.setProperty(prop, v);
    }
  });
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  const bg = themeColour('--vscode-editor-background', '#1e1e1e');
  clone.style.background = bg;
  return new XMLSerializer().serializeToString(clone);
}
