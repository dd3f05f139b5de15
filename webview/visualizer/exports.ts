/**
 * Turns a figure of the page into the bytes of an export; the host only saves what it is given.
 * SVG figures are serialised with their computed theme colours; the retention map is rebuilt as SVG
 * text from its data because it lives on a canvas.
 */
import type { ExportKind } from '../../src/shared/protocol';
import { inlineStyles, svgToPngBase64 } from '../shared/theme';

export interface FigureSource {
  /** a live SVG to serialise, or SVG text built from data */
  svg(): string | null;
  csv?(): string | null;
}

export async function exportFigure(src: FigureSource, kind: ExportKind): Promise<string | null> {
  if (kind === 'csv') return src.csv?.() ?? null;
  const svg = src.svg();
  if (!svg) return null;
  return kind === 'svg' ? svg : svgToPngBase64(svg);
}

export function liveSvg(host: HTMLElement): () => string | null {
  return () => {
    const el = host.querySelector('svg');
    return el ? inlineStyles(el) : null;
  };
}
