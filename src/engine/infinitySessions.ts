/**
 * The transformer's onnxruntime sessions, built from a config and a weight source one graph at a
 * time (weights of one block in memory at once while building), and the typed calls the generation
 * loop makes into them.
 */
import * as ort from 'onnxruntime-node';
import {
  buildBlockGraph,
  buildConditioningGraph,
  buildEmbedGraph,
  buildHeadGraph,
  buildKvGatherGraph,
} from '../../kernels/graphs/infinity';
import type { InfinityConfig } from '../model/config';
import type { WeightSource } from '../model/weights';
import type { ExecutionProvider } from '../shared/types';
import { PartialBuild } from './partialBuild';
import { createSession, releaseDeviceOutputs } from './sessions';

export interface ConditioningOut {
  cond: ort.Tensor;
  caKv: ort.Tensor;
  caBias: ort.Tensor;
  gss: ort.Tensor;
  headSS: ort.Tensor;
  x0: ort.Tensor;
}

export interface BlockOut {
  y: ort.Tensor;
  kAll: ort.Tensor;
  vAll: ort.Tensor;
  win: Float32Array | null;
  colsum: Float32Array | null;
  asiStats: Float32Array | null;
}

export class InfinitySessions {
  // every variant is built on first use, keyed by `${block}:${variant}`: runs through the fused
  // per-scale graphs never need them, and each holds a float32 copy of its block's weights
  private variants = new Map<string, ort.InferenceSession>();
  // block sessions whose IoBinding still holds the outputs of their last run (WebGPU)
  private holding = new Set<ort.InferenceSession>();
  private constructor(
    readonly cfg: InfinityConfig,
    readonly ep: ExecutionProvider,
    readonly ws: WeightSource,
    private conditioning: ort.InferenceSession,
    private embed: ort.InferenceSession,
    private head: ort.InferenceSession,
    readonly gatherSession: ort.InferenceSession | null,
  ) {}

  static async create(cfg: InfinityConfig, ws: WeightSource, ep: ExecutionProvider): Promise<InfinitySessions> {
    // a provider that lacks one graph's ops leaves none of the others behind
    const built = new PartialBuild();
    const make = (...a: Parameters<typeof createSession>) => built.add(() => createSession(...a));
    const conditioning = await make(buildConditioningGraph(cfg, ws), ep, 'conditioning', ['ca_kv', 'ca_bias', 'gss', 'head_ss', 'x0']);
    const embed = await make(buildEmbedGraph(cfg, ws), ep, 'token embedding', ['x']);
    const head = await make(buildHeadGraph(cfg, ws), ep, 'head');
    const gather =
      ep === 'webgpu'
        ? await make(buildKvGatherGraph(cfg.numHeads, cfg.embedDim / cfg.numHeads), ep, 'KV gather', ['k_kept', 'v_kept'])
        : null;
    return new InfinitySessions(cfg, ep, ws, conditioning, embed, head, gather);
  }

  /** Block i's session, in the variant that also reports attention mass per key and/or the ASI factors. */
  private async block(i: number, colsum: boolean, asiStats: boolean): Promise<ort.InferenceSession> {
    const key = `${i}:${colsum ? 'c' : ''}${asiStats ? 'a' : ''}`;
    let s = this.variants.get(key);
    if (!s) {
      s = await createSession(buildBlockGraph(this.cfg, this.ws, i, { colsum, asiStats }), this.ep, `block ${i}`, ['y', 'k_all', 'v_all']);
      this.variants.set(key, s);
    }
    return s;
  }

  async runConditioning(text: Float32Array, mask: Float32Array, rows: number, T: number): Promise<ConditioningOut> {
    const r = await this.conditioning.run({
      text: new ort.Tensor('float32', text, [rows, T, this.cfg.textChannels]),
      text_mask: new ort.Tensor('float32', mask, [rows, T]),
    });
    return { cond: r.cond, caKv: r.ca_kv, caBias: r.ca_bias, gss: r.gss, headSS: r.head_ss, x0: r.x0 };
  }

  async runEmbed(codes: Float32Array, rows: number, L: number, level: number): Promise<ort.Tensor> {
    const r = await this.embed.run({
      codes: new ort.Tensor('float32', codes, [rows, L, this.cfg.codebookDim]),
      level: new ort.Tensor('int64', BigInt64Array.of(BigInt(level)), [1]),
    });
    return r.x;
  }

  async runBlock(
    i: number,
    feeds: {
      x: ort.Tensor;
      gss: ort.Tensor;
      cos: Float32Array;
      sin: Float32Array;
      pastK: ort.Tensor;
      pastV: ort.Tensor;
      caKv: ort.Tensor;
      caBias: ort.Tensor;
      L: number;
    },
    win: { idx: Int32Array | null; mode: 'code' | 'paper' },
    colsum: boolean,
    /** K' for the ASI factors (already clamped to the history length), 0 for none */
    asiTopK = 0,
  ): Promise<BlockOut> {
    const d = this.cfg.embedDim / this.cfg.numHeads;
    const W = win.idx ? win.idx.length : 0;
    const asi = asiTopK > 0;
    const session = await this.block(i, colsum, asi);
    // every output is fetched on every run: the WebGPU provider copies an output whose shape changed
    // since a run that did not fetch it from a stale buffer ("Tensor size mismatch")
    const fetches = ['y', 'k_all', 'v_all', 'win_code', 'win_paper'];
    const winName = win.mode === 'paper' ? 'win_paper' : 'win_code';
    if (colsum) fetches.push('colsum');
    if (asi) fetches.push('asi_stats');
    const r = await session.run(
      {
        x: feeds.x,
        gss: feeds.gss,
        rope_cos: new ort.Tensor('float32', feeds.cos, [feeds.L, d / 2]),
        rope_sin: new ort.Tensor('float32', feeds.sin, [feeds.L, d / 2]),
        past_k: feeds.pastK,
        past_v: feeds.pastV,
        ca_kv: feeds.caKv,
        ca_bias: feeds.caBias,
        // never an empty index: the WebGPU provider mis-copies zero-sized outputs on later runs, so a
        // one-row window is computed and simply not fetched when the policy wants none
        win_idx: W
          ? new ort.Tensor(
              'int64',
              BigInt64Array.from(win.idx!, (v) => BigInt(v)),
              [W],
            )
          : new ort.Tensor('int64', BigInt64Array.of(0n), [1]),
        ...(asi ? { asi_k: new ort.Tensor('int64', BigInt64Array.of(BigInt(asiTopK)), [1]) } : {}),
      },
      fetches,
    );
    if (this.ep === 'webgpu') this.holding.add(session);
    return {
      y: r.y,
      kAll: r.k_all,
      vAll: r.v_all,
      win: W ? (r[winName].data as Float32Array) : null,
      colsum: colsum ? (r.colsum.data as Float32Array) : null,
      asiStats: asi ? (r.asi_stats.data as Float32Array) : null,
    };
  }

  /**
   * Makes block i's sessions let go of the outputs their IoBindings keep (sessions.ts,
   * releaseDeviceOutputs). Called once a layer has evicted: its extended [past + L] cache, which nothing
   * reads any more, would otherwise stay on the device until the block runs at the next scale, so that
   * every layer held its uncompressed cache beside the compressed one. Returns how many sessions let go
   * as intended (their release run failed on the element type; none under SCALEKV_KEEP_OUTPUTS=1).
   */
  async releaseBlockOutputs(i: number): Promise<number> {
    let n = 0;
    for (const [key, s] of this.variants)
      if (key.startsWith(`${i}:`) && this.holding.delete(s)) {
        if (await releaseDeviceOutputs(s)) n++;
      }
    return n;
  }

  /** block sessions built so far (each holds a float32 copy of its block's weights) */
  get blockSessions(): number {
    return this.variants.size;
  }

  /**
   * Lets every block session go. Calibration builds one per block and statistics variant, which
   * nothing else uses: on Infinity-2B each variant's 32 hold 8.8 GB of float32 weights. Later
   * layer-by-layer runs build what they need again.
   */
  async releaseBlocks(): Promise<void> {
    const all = [...this.variants.values()];
    this.variants.clear();
    this.holding.clear();
    for (const s of all) await s.release();
  }

  async runHead(h: ort.Tensor, headSS: ort.Tensor): Promise<Float32Array> {
    const r = await this.head.run({ h, head_ss: headSS });
    return r.logits.data as Float32Array;
  }

  async release(): Promise<void> {
    for (const s of [this.conditioning, this.embed, this.head, this.gatherSession, ...this.variants.values()]) await s?.release();
  }
}
