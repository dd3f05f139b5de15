/**
 * ScaleKV's token selection for one (row, head), as StargazerX0/ScaleKV's update_kv does it: an
 * observation window of queries at the patch centres of a 4x4 grid over the current token map scores
 * every cached key; scores are summed over the window (window keys masked), pooled along the key axis,
 * and the top (capacity - window) keys are kept together with the window's own keys, in cache order.
 *
 * Indices here are positions in the layer's current cache (old kept entries first, then the current
 * scale's keys), exactly like the official code's "global" indices.
 */

export interface WindowPlan {
  /** cache indices of the window's keys (ascending, unique) */
  keys: Int32Array;
  /** local query rows within the current scale whose scores are needed, aligned with keys */
  queries: Int32Array;
}

/**
 * Which queries form the observation window. `layout` 'official' follows the official code: a
 * square map with an integer-square window gets the 4x4 patch-centre grid; otherwise (non-square map
 * or a map smaller than the grid) the last min(W, keyLen) cache entries, with their query rows
 * clamped into the current scale. 'grid' places the patch centres on any h x w map.
 */
export function planWindow(h: number, w: number, keyLen: number, windowSize: number, layout: 'official' | 'grid' = 'official'): WindowPlan {
  const L = h * w;
  const start = keyLen - L;
  const g = Math.sqrt(windowSize);
  const square = h === w && Number.isInteger(g);
  const fits = Number.isInteger(g) && h >= g && w >= g;
  if ((layout === 'official' && (!square || !fits)) || (layout === 'grid' && !fits)) {
    const n = Math.min(windowSize, keyLen);
    const keys = Int32Array.from({ length: n }, (_, i) => keyLen - n + i);
    const queries = keys.map((k) => Math.min(L - 1, Math.max(0, k - start)));
    return { keys, queries };
  }
  const hp = Math.floor(h / g);
  const wp = Math.floor(w / g);
  const set = new Set<number>();
  for (let i = 0; i < g; i++) {
    for (let j = 0; j < g; j++) {
      const hc = Math.max(0, Math.min(h - 1, i * hp + Math.floor((hp - 1) / 2)));
      const wc = Math.max(0, Math.min(w - 1, j * wp + Math.floor((wp - 1) / 2)));
      set.add(Math.min(keyLen - 1, Math.max(0, hc * w + wc + start)));
    }
  }
  const keys = Int32Array.from([...set].sort((a, b) => a - b)).slice(0, windowSize);
  return { keys, queries: keys.map((k) => k - start) };
}

/** F.max_pool1d / F.avg_pool1d(count_include_pad=True) with stride 1 and padding k//2, length-preserving for odd k. */
export function pool1d(x: Float64Array, kernel: number, mode: 'maxpool' | 'avgpool'): Float64Array {
  const n = x.length;
  const pad = Math.floor(kernel / 2);
  const outLen = n + 2 * pad - kernel + 1;
  const out = new Float64Array(outLen);
  for (let i = 0; i < outLen; i++) {
    let m = -Infinity;
    let s = 0;
    for (let k = 0; k < kernel; k++) {
      const j = i - pad + k;
      const v = j >= 0 && j < n ? x[j] : mode === 'maxpool' ? -Infinity : 0;
      if (v > m) m = v;
      s += v;
    }
    out[i] = mode === 'maxpool' ? m : s / kernel;
  }
  return out;
}

/**
 * Indices of the `k` largest values, ties broken towards the lower index (torch.topk's order among
 * exact ties is unspecified; this choice is deterministic and documented).
 */
export function topK(values: Float64Array, k: number, exclude?: Set<number>): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) if (!exclude?.has(i)) idx.push(i);
  idx.sort((a, b) => (values[b] - values[a]) || a - b);
  return idx.slice(0, Math.max(0, k));
}

export interface SelectOptions {
  capacity: number;
  kernel: number;
  pooling: 'maxpool' | 'avgpool';
}

/**
 * Keep-set for one (row, head).
 * @param scores window logits [W][keyLen] (already scaled), rows aligned with plan.keys
 * @returns ascending cache indices; null when nothing needs evicting (keyLen <= capacity)
 */
export function selectKeep(scores: Float32Array, plan: WindowPlan, keyLen: number, o: SelectOptions): Int32Array | null {
  if (keyLen <= o.capacity) return null;
  const W = plan.keys.length;
  if (o.capacity <= W) return Int32Array.from(plan.keys);
  const windowSet = new Set<number>(plan.keys);
  const summed = new Float64Array(keyLen);
  for (let j = 0; j < keyLen; j++) {
    if (windowSet.has(j)) {
      summed[j] = -Infinity;
      continue;
    }
    let s = 0;
    for (let q = 0; q < W; q++) s += scores[q * keyLen + j];
    summed[j] = s;
  }
  const pooled = pool1d(summed, o.kernel, o.pooling);
  const keep = Math.min(o.capacity - W, keyLen - W);
  const rest = topK(pooled, keep, windowSet);
  return Int32Array.from([...rest, ...plan.keys].sort((a, b) => a - b));
}
