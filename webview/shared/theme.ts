/**
 * VS Code theme colours for drawing outside CSS (canvas, exported files). Custom properties such as
 * `color-mix(in srgb, var(--vscode-foreground) 18%, transparent)` only become a concrete colour when
 * the browser computes them on a real property, so they are resolved through a probe element.
 */
export function resolveColour(cssValue: string, fallback: string, within: Element = document.body): string {
  const probe = document.createElement('span');
  probe.hidden = true;
  probe.style.color = fallback;
  probe.style.color = cssValue; // an invalid value leaves the fallback in place
  (within.isConnected ? within : document.body).append(probe);
  const v = getComputedStyle(probe).color;
  probe.remove();
  return plainColour(v || fallback);
}

let pixel: CanvasRenderingContext2D | null = null;
const plain = new Map<string, string>();

/**
 * Any CSS colour as rgb()/rgba(). Browsers report color-mix() results as color(srgb ...), which many
 * SVG editors and converters cannot read; painting one pixel gives the plain channels.
 */
function plainColour(v: string): string {
  if (!v || v === 'none' || v.startsWith('url(') || v.startsWith('rgb')) return v;
  const hit = plain.get(v);
  if (hit) return hit;
  pixel ??= document.createElement('canvas').getContext('2d', { willReadFrequently: true });
  if (!pixel) return v;
  pixel.clearRect(0, 0, 1, 1);
  pixel.fillStyle = v;
  pixel.fillRect(0, 0, 1, 1);
  const [r, g, b, a] = pixel.getImageData(0, 0, 1, 1).data;
  const out = a === 255 ? `rgb(${r}, ${g}, ${b})` : `rgba(${r}, ${g}, ${b}, ${(a / 255).toFixed(3)})`;
  plain.set(v, out);
  return out;
}

function themeColour(name: string, fallback: string, within: Element = document.body): string {
  return resolveColour(`var(${name})`, fallback, within);
}

const INLINED = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-dasharray',
  'stroke-opacity',
  'opacity',
  'font-family',
  'font-size',
  'font-weight',
  'paint-order',
];

/**
 * A standalone SVG document of a figure: computed theme colours are written onto each element so the
 * file looks the same outside VS Code, where none of the --vscode-* variables exist.
 */
export function inlineStyles(svg: SVGSVGElement): string {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const src = [svg, ...Array.from(svg.querySelectorAll('*'))];
  const dst = [clone, ...Array.from(clone.querySelectorAll('*'))];
  src.forEach((el, i) => {
    const cs = getComputedStyle(el);
    const d = dst[i] as SVGElement;
    for (const prop of INLINED) {
      const raw = cs.getPropertyValue(prop);
      const v = prop === 'fill' || prop === 'stroke' ? plainColour(raw) : raw;
      // inline style, not attributes: it must also override the var(--skv-*) fills set through CSSOM
      if (v) d.style.setProperty(prop, v);
    }
  });
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  clone.removeAttribute('tabindex');
  clone.querySelector('.cursor')?.classList.remove('cursor');
  clone.querySelector('.cursor-ring')?.setAttribute('visibility', 'hidden'); // keyboard focus is not part of a figure
  const bg = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', themeColour('--vscode-editor-background', '#1e1e1e', svg));
  clone.insertBefore(bg, clone.firstChild);
  return new XMLSerializer().serializeToString(clone);
}

/** Rasterises an SVG document at twice its size; base64 PNG without the data: prefix. */
export async function svgToPngBase64(svgText: string): Promise<string> {
  // read the size from the text: a DOMParser document inherits the page's CSP and would report every
  // style attribute of the export as a violation
  const open = /<svg\b[^>]*>/.exec(svgText)?.[0] ?? '';
  const w = Number(/\swidth="([\d.]+)"/.exec(open)?.[1]) || 800;
  const h = Number(/\sheight="([\d.]+)"/.exec(open)?.[1]) || 600;
  const img = new Image();
  const url = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(svgText)))}`;
  await new Promise<void>((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error('could not rasterise the figure'));
    img.src = url;
  });
  const c = document.createElement('canvas');
  c.width = w * 2;
  c.height = h * 2;
  const ctx = c.getContext('2d')!;
  ctx.scale(2, 2);
  ctx.drawImage(img, 0, 0, w, h);
  return c.toDataURL('image/png').split(',')[1];
}
