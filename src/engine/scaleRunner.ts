/**
 * How one scale of the transformer runs. Two runners share one contract:
 *  - the fused runner (fusedRunner.ts): one graph per scale with every block, the head and the
 *    in-graph token selection, float16 on GPUs; for policies whose selection is static;
 *  - the layer-by-layer runner below: one session run per block, the policy deciding on the host
 *    after each block (H2O, AMS-KV, calibration's attention statistics, anything dynamic).
 * Both keep their caches as LayerCache objects so accounting and the retention record are shared.
 */
import type * as ort from 'onnxruntime-node';
import { LayerCache, cpuGatherer, deviceGatherer, type Gatherer } from '../kvcache/kvCache';
import type { KvPolicy } from '../kvcache/policy';
import type { RetentionRecorder } from '../kvcache/retention';
import { ScaleKVError } from '../shared/errors';
import type { ScaleShape, WindowQueryMode } from '../shared/types';
import type { InfinitySessions } from './infinitySessions';
import type { RopeTable } from './rope';

export interface ScaleStep {
  si: number;
  schedule: ScaleShape[];
  /** original position of this scale's first token */
  firstPos: number;
  rope: RopeTable;
  /** BSQ codes [rows, L, d] for scales after the first */
  codes: Float32Array | null;
  check(): void;
  /** called as a layer starts (layer by layer), or for every layer as the fused scale starts */
  onLayer(layer: number, fused?: boolean): void;
}

export interface ScaleRunner {
  readonly caches: LayerCache[];
  /** bytes per cached element as held (2 for float16, 4 for float32) */
  readonly bytesPerElement: number;
  readonly kind: 'fused' | 'layerwise';
  /** runs every block and the head; returns the logits [rows, L, 2d] and the most bytes held at once */
  run(step: ScaleStep): Promise<{ logits: Float32Array; peakBytes: number }>;
  dispose(): void;
}

export interface ConditioningTensors {
  gss: ort.Tensor;
  caKv: ort.Tensor;
  caBias: ort.Tensor;
  headSS: ort.Tensor;
  x0: ort.Tensor;
}

const F32 = 4;

export function layerwiseRunner(
  sessions: InfinitySessions,
  cond: ConditioningTensors,
  o: { rows: number; policy: KvPolicy; queryMode: WindowQueryMode; retention: RetentionRecorder | null },
): ScaleRunner {
  const { cfg } = sessions;
  const H = cfg.numHeads;
  const hd = cfg.embedDim / H;
  const caches = Array.from({ length: cfg.depth }, () => new LayerCache(o.rows, H, hd));
  const gatherer: Gatherer = sessions.gatherSession ? deviceGatherer(sessions.gatherSession) : cpuGatherer;
  let x = cond.x0;
  const drop = (t: ort.Tensor) => {
    if (t !== cond.x0 && t.location !== 'cpu') t.dispose();
  };
  return {
    caches,
    bytesPerElement: F32,
    kind: 'layerwise',
    async run(step) {
      const { si, schedule } = step;
      const shape = schedule[si];
      const L = shape.h * shape.w;
      if (step.codes) {
        drop(x);
        x = await sessions.runEmbed(step.codes, o.rows, L, si);
      }
      let peak = 0;
      let live = caches.reduce((a, c) => a + c.bytes(F32), 0);
      for (let l = 0; l < cfg.depth; l++) {
        step.check();
        step.onLayer(l);
        const cache = caches[l];
        const cacheLen = cache.len + L;
        const needs = o.policy.needs(l, si, cacheLen, schedule);
        const out = await sessions.runBlock(
          l,
          {
            x,
            gss: cond.gss,
            cos: step.rope.cos,
            sin: step.rope.sin,
            pastK: cache.k,
            pastV: cache.v,
            caKv: cond.caKv,
            caBias: cond.caBias,
            L,
          },
          { idx: needs.windowQueries, mode: needs.queryMode ?? o.queryMode },
          needs.colsum,
          // the graph's TopK needs a history of at least K' keys: clamp, and none without history
          needs.asiTopK && cache.len > 0 ? Math.min(needs.asiTopK, cache.len) : 0,
        );
        drop(x);
        x = out.y;
        live -= cache.bytes(F32);
        cache.extend(out.kAll, out.vAll, L, step.firstPos);
        live += cache.bytes(F32);
        // this layer's extended cache next to every other layer's current one: the most held at once
        peak = Math.max(peak, live);
        const sel = o.policy.select({
          layer: l,
          scaleIndex: si,
          schedule,
          rows: o.rows,
          heads: H,
          cacheLen,
          curLen: L,
          positions: cache.positions,
          isLastScale: si === schedule.length - 1,
          windowScores: out.win,
          colsum: out.colsum,
          asiStats: out.asiStats,
        });
        if (sel) {
          if (sel.keep.length !== o.rows * H * sel.perHead) {
            throw new ScaleKVError(
              'E_INTERNAL',
              `Policy ${o.policy.name} returned ${sel.keep.length} indices for ${o.rows}x${H}x${sel.perHead}.`,
            );
          }
          live -= cache.bytes(F32);
          await cache.evict(sel, gatherer);
          live += cache.bytes(F32);
          await sessions.releaseBlockOutputs(l);
        }
        o.retention?.record(si, l, cache, cacheLen);
      }
      return { logits: await sessions.runHead(x, cond.headSS), peakBytes: peak };
    },
    dispose() {
      drop(x);
      for (const c of caches) c.dispose();
    },
  };
}
