/**
 * A compressed run against its full-cache reference: PSNR and SSIM per image, agreement of the
 * sampled bits per scale, KV held and peak relative to the reference. Works on the 8-bit pixels the
 * PNGs hold, so a reference read back from disk (an evaluation resumed later) gives the same numbers.
 */
import type { FidelityReport, PolicySpec, RunRecord } from '../shared/types';
import { agreement, psnr, ssim } from './metrics';

const LPIPS_NOTE = 'LPIPS needs pretrained AlexNet/VGG weights, which cannot be downloaded here; reported as null.';

/** refPixels / candPixels: every image of the batch, planar [3, H, W] 8-bit, one after another */
export function fidelityOfPixels(
  ref: RunRecord,
  refPixels: Uint8Array,
  cand: RunRecord,
  candPixels: Uint8Array,
  policy: PolicySpec,
  refBitsPerScale?: Uint8Array[],
  candBitsPerScale?: Uint8Array[],
): FidelityReport {
  const W = ref.images[0].width;
  const H = ref.images[0].height;
  const plane = 3 * W * H;
  const images = ref.images.map((im, b) => {
    const a = refPixels.subarray(b * plane, (b + 1) * plane);
    const c = candPixels.subarray(b * plane, (b + 1) * plane);
    return { prompt: im.prompt, seed: im.seed, psnr: psnr(a, c), ssim: ssim(a, c, 3, H, W), lpips: null };
  });
  const tokenAgreement = ref.schedule.map((s, si) => ({
    scaleIndex: si,
    agreement: refBitsPerScale && candBitsPerScale ? agreement(refBitsPerScale[si], candBitsPerScale[si]) : NaN,
  }));
  return {
    referenceRun: ref.id,
    candidateRun: cand.id,
    policy: { ...policy, profile: undefined },
    images,
    tokenAgreement,
    kvHeldRatio: cand.kv.finalHeldBytes / ref.kv.finalHeldBytes,
    kvPeakRatio: cand.kv.peakBytes / ref.kv.peakBytes,
    timePerScale: ref.timings.map((t, i) => ({ scaleIndex: t.scaleIndex, referenceMs: t.ms, candidateMs: cand.timings[i]?.ms ?? NaN })),
    lpipsNote: LPIPS_NOTE,
  };
}
