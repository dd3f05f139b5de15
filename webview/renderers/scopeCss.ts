/**
 * Scopes the visualizer's stylesheet to one notebook output: the renderer shares the notebook's
 * document with other outputs, so rules for `button`, `h2` or `:focus-visible` must not leak out.
 * `body` becomes the output's root; `body.vscode-*` theme selectors keep the body and gain the root.
 * Handles the flat rule lists of media/visualizer.css (no nested at-rules).
 */
export function scopeCss(css: string, root: string): string {
  const flat = css.replace(/\/\*[\s\S]*?\*\//g, '');
  return flat.replace(/([^{}]+)\{/g, (_, selectors: string) => {
    const scoped = selectors
      .split(',')
      .map((raw) => {
        const s = raw.trim();
        if (!s) return s;
        if (s === 'body') return root;
        const themed = /^body(\.[\w-]+)+/.exec(s);
        if (themed) return `${themed[0]} ${root}${s.slice(themed[0].length)}`;
        if (s.startsWith(root)) return s;
        return `${root} ${s}`;
      })
      .join(', ');
    return `${scoped} {`;
  });
}
