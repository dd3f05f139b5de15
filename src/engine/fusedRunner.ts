/**
 * The fused runner: one session run per scale (kernels/graphs/scaleStep.ts). The weights are uploaded
 * once per precision as device tensors and fed to every scale's graph; graphs are built per static
 * plan (scale shape, cache lengths, budgets, window) and kept for the next generation. Between scales
 * only the logits (and the kept indices, for the retention record) come back to the host.
 */
import * as ort from 'onnxruntime-node';
import { Graph } from '../../kernels/onnx/graph';
import { toHalf } from '../../kernels/onnx/half';
import { buildScaleStepGraph, type ScaleStepPlan, type StepLayerPlan } from '../../kernels/graphs/scaleStep';
import { stepWeights, weightDtype, type StepPrecision } from '../../kernels/graphs/stepWeights';
import { LayerCache } from '../kvcache/kvCache';
import type { KvPolicy, Selection, StaticSelection } from '../kvcache/policy';
import type { RetentionRecorder } from '../kvcache/retention';
import type { InfinityConfig } from '../model/config';
import type { WeightSource } from '../model/weights';
import type { ExecutionProvider, ScaleShape } from '../shared/types';
import { createSession, releaseDeviceOutputs } from './sessions';
import type { ConditioningTensors, ScaleRunner } from './scaleRunner';

/**
 * Query chunks whose score block ([rows x heads x chunk x keys]) stays near the GPU's L2 ran 2-3x
 * faster than whole maps on an H100 through WebGPU (128 x 10521 and 256 x 4746 were the sweet spots in
 * probes: ../bench/gpu.md), so the chunk is sized per layer from its key count. Inside the fused graphs
 * twice the chunk was 13% faster at 6,000-10,000 keys (the full cache's last two scales of 2B at 1M) and
 * no faster below, hence the larger budget there. SCALEKV_QUERY_CHUNK_BUDGET=N (score elements per head
 * row) overrides both, for measurements.
 */
export function queryChunkFor(keys: number): number {
  const budget = Number(process.env.SCALEKV_QUERY_CHUNK_BUDGET) || (keys >= 6000 ? 2.8e6 : 1.4e6);
  const target = budget / Math.max(1, keys);
  return Math.max(64, 2 ** Math.floor(Math.log2(Math.max(1, target))));
}

/**
 * Keys per attention padded to a multiple of this (scaleStep's keyAlign): 4 on WebGPU, whose MatMul
 * needs it for its vec4 kernel; 0 elsewhere (the CPU's and CUDA's GEMMs take any size).
 * SCALEKV_KEY_ALIGN=N overrides it, for measurements (0: no padding).
 */
export function keyAlignFor(ep: ExecutionProvider): number {
  const env = process.env.SCALEKV_KEY_ALIGN;
  if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  return ep === 'webgpu' ? 4 : 0;
}
const MAX_CACHED_SESSIONS = 48;

/** The static plan of every scale, or null when the policy needs the layer-by-layer path. */
export function planScales(policy: KvPolicy, depth: number, schedule: ScaleShape[]): (StaticSelection | null)[][] | null {
  if (!policy.staticSelection) return null;
  const len = new Array<number>(depth).fill(0);
  const plans: (StaticSelection | null)[][] = [];
  for (let si = 0; si < schedule.length; si++) {
    const L = schedule[si].h * schedule[si].w;
    const row: (StaticSelection | null)[] = [];
    for (let l = 0; l < depth; l++) {
      const s = policy.staticSelection(l, si, len[l] + L, schedule);
      if (s === 'layerwise') return null;
      row.push(s);
      len[l] = s ? s.capacity : len[l] + L;
    }
    plans.push(row);
  }
  return plans;
}

/** Device copies of the step weights and the per-scale sessions that read them. */
export class FusedModel {
  private sessions = new Map<string, ort.InferenceSession>();
  private constructor(
    readonly cfg: InfinityConfig,
    readonly ep: ExecutionProvider,
    readonly precision: StepPrecision,
    readonly weights: Record<string, ort.Tensor>,
    readonly weightBytes: number,
    // the sessions that made the device weights: their outputs must not outlive them
    private readonly uploaders: ort.InferenceSession[],
  ) {}

  static async create(
    cfg: InfinityConfig,
    ws: WeightSource,
    ep: ExecutionProvider,
    precision: StepPrecision,
    signal?: AbortSignal,
  ): Promise<FusedModel> {
    const list = stepWeights(cfg, ws);
    const weights: Record<string, ort.Tensor> = {};
    let bytes = 0;
    const uploaders = new Map<string, ort.InferenceSession>();
    try {
      for (const w of list) {
        if (signal?.aborted) throw new Error('aborted');
        const dt = weightDtype(w, precision);
        const data = w.read();
        bytes += data.length * (dt === 'float16' ? 2 : 4);
        if (ep === 'cpu') {
          weights[`w.${w.name}`] =
            dt === 'float16' ? new ort.Tensor('float16', toHalf(data), w.dims) : new ort.Tensor('float32', data, w.dims);
          continue;
        }
        // a device tensor comes out of a session run: push each weight through a graph once, which
        // also rounds float16 weights on the GPU (converting 2B parameters in JavaScript took about a minute)
        let up = uploaders.get(dt);
        if (!up) {
          const g = new Graph('upload');
          const x = g.input('x', 'float32', null);
          g.outputAs(dt === 'float16' ? g.op('Cast', [x], { to: 10 }) : x, 'y', dt, null);
          up = await createSession(g.toBytes(), ep, `weight upload (${dt})`, ['y']);
          uploaders.set(dt, up);
        }
        weights[`w.${w.name}`] = (await up.run({ x: new ort.Tensor('float32', data, w.dims) })).y;
      }
    } catch (e) {
      for (const t of Object.values(weights)) if (t.location !== 'cpu') t.dispose();
      for (const u of uploaders.values()) await u.release();
      throw e;
    }
    return new FusedModel(cfg, ep, precision, weights, bytes, [...uploaders.values()]);
  }

  async session(plan: ScaleStepPlan): Promise<ort.InferenceSession> {
    const key = JSON.stringify({
      ...plan,
      ropeCos: undefined,
      ropeSin: undefined,
      chunkFor: undefined,
      layers: plan.layers.map((l) => [
        l.pastLen,
        l.select && { ...l.select, windowKeys: [...l.select.windowKeys], windowQueries: [...l.select.windowQueries] },
      ]),
    });
    const hit = this.sessions.get(key);
    if (hit) {
      this.sessions.delete(key); // most recently used last
      this.sessions.set(key, hit);
      return hit;
    }
    const caches = plan.last ? [] : plan.layers.flatMap((_, l) => [`k${l}`, `v${l}`]);
    const s = await createSession(buildScaleStepGraph(this.cfg, plan), this.ep, `scale ${plan.scaleIndex} (${plan.h}x${plan.w})`, caches);
    this.sessions.set(key, s);
    if (this.sessions.size > MAX_CACHED_SESSIONS) {
      const [oldest, old] = this.sessions.entries().next().value as [string, ort.InferenceSession];
      this.sessions.delete(oldest);
      await old.release();
    }
    return s;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await s.release();
    this.sessions.clear();
    for (const t of Object.values(this.weights)) if (t.location !== 'cpu') t.dispose();
    for (const u of this.uploaders) await u.release();
  }
}

/** The fused graphs' device weights: one precision at a time, uploaded when first asked for. */
export function fusedWeightCache(cfg: InfinityConfig, ws: WeightSource, ep: ExecutionProvider) {
  let held: { precision: StepPrecision; model: Promise<FusedModel> } | null = null;
  return {
    async get(precision: StepPrecision, signal?: AbortSignal): Promise<FusedModel> {
      if (held?.precision !== precision) {
        if (held) await (await held.model).release();
        held = { precision, model: FusedModel.create(cfg, ws, ep, precision, signal) };
        // a failed or cancelled upload must not be handed to the next request
        held.model.catch(() => (held = null));
      }
      return held.model;
    },
    async release(): Promise<void> {
      const h = held;
      held = null;
      if (h) await (await h.model.catch(() => null))?.release();
    },
  };
}

export function fusedRunner(
  model: FusedModel,
  cond: ConditioningTensors,
  o: {
    rows: number;
    plans: (StaticSelection | null)[][];
    retention: RetentionRecorder | null;
    queryChunk?: number;
    keyAlign?: number;
    finalGrid: ScaleShape;
  },
): ScaleRunner {
  const { cfg } = model;
  const H = cfg.numHeads;
  const hd = cfg.embedDim / H;
  const bpe = model.precision === 'float16' ? 2 : 4;
  const caches = Array.from({ length: cfg.depth }, () => new LayerCache(o.rows, H, hd));
  const layerBytes = (n: number) => 2 * o.rows * H * n * hd * bpe;
  // the session of the scale before: it holds the cache it made until told to let go (sessions.ts)
  let previous: ort.InferenceSession | null = null;
  const letGo = async (s: ort.InferenceSession | null, withCaches: boolean) => {
    if (!s || model.ep !== 'webgpu') return;
    // device tensors bind without a copy; the live caches only lend their names (their shapes have moved on)
    const device: Record<string, ort.Tensor> = { ...model.weights };
    if (withCaches)
      caches.forEach((c, l) => {
        if (c.k.location !== 'cpu') device[`past_k${l}`] = c.k;
        if (c.v.location !== 'cpu') device[`past_v${l}`] = c.v;
      });
    await releaseDeviceOutputs(s, device);
  };
  return {
    caches,
    bytesPerElement: bpe,
    kind: 'fused',
    async run(step) {
      const { si, schedule } = step;
      const shape = schedule[si];
      const L = shape.h * shape.w;
      const last = si === schedule.length - 1;
      const layers: StepLayerPlan[] = caches.map((c, l) => ({ pastLen: c.len, select: o.plans[si][l] }));
      const plan: ScaleStepPlan = {
        rows: o.rows,
        scaleIndex: si,
        h: shape.h,
        w: shape.w,
        first: si === 0,
        last,
        ropeCos: step.rope.cos,
        ropeSin: step.rope.sin,
        layers,
        precision: model.precision,
        queryChunk: o.queryChunk ?? 0,
        chunkFor: queryChunkFor,
        keyAlign: o.keyAlign ?? keyAlignFor(model.ep),
      };
      step.check();
      step.onLayer(0, true);
      const session = await model.session(plan);
      step.check();
      const feeds: Record<string, ort.Tensor> = {
        ...model.weights,
        gss: cond.gss,
        head_ss: cond.headSS,
        ca_kv: cond.caKv,
        ca_bias: cond.caBias,
      };
      if (si === 0) feeds.x0 = cond.x0;
      else feeds.codes = new ort.Tensor('float32', step.codes!, [o.rows, L, cfg.codebookDim]);
      caches.forEach((c, l) => {
        if (c.len) {
          feeds[`past_k${l}`] = c.k;
          feeds[`past_v${l}`] = c.v;
        }
      });
      const r = await session.run(feeds);
      // this scale has read the previous scale's cache: its session may drop the copy it holds
      if (previous !== session) await letGo(previous, true);
      previous = session;
      // the most held at once: every layer's old cache (inputs) beside every new one (outputs)
      const before = caches.reduce((a, c) => a + layerBytes(c.len), 0);
      let after = 0;
      let widest = 0;
      // every selecting layer's indices arrive in one tensor, in layer order
      const keepAll = r.keep ? (r.keep.data as Int32Array) : null;
      let keepAt = 0;
      caches.forEach((c, l) => {
        const sel = o.plans[si][l];
        let keep: Selection | null = null;
        if (sel && keepAll) {
          const n = o.rows * H * sel.capacity;
          keep = { perHead: sel.capacity, keep: keepAll.subarray(keepAt, keepAt + n) };
          keepAt += n;
        }
        widest = Math.max(widest, layerBytes(c.len + L));
        const cacheLen = c.len + L;
        c.adopt(last ? null : r[`k${l}`], last ? null : r[`v${l}`], L, step.firstPos, keep);
        after += layerBytes(c.len);
        o.retention?.record(si, l, c, cacheLen);
      });
      // after the last scale no layer's full cache is kept, but the record still counts what each held
      const peakBytes = Math.max(last ? before + widest : before + after, after);
      return { logits: r.logits.data as Float32Array, peakBytes };
    },
    dispose() {
      // the caches are disposed before the release runs: it must not be handed them
      void letGo(previous, false);
      previous = null;
      for (const c of caches) c.dispose();
    },
  };
}
