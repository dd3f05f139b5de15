/**
 * Device memory as NVIDIA's driver reports it, sampled by `nvidia-smi` in a side process (the
 * benchmark's own process cannot see what the WebGPU or CUDA provider allocates). A row's peak is
 * the highest `memory.used` seen while it ran; the whole card is counted, so benchmarks run alone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface GpuMemorySampler {
  readonly gpu: string;
  /** start a new window; returns the previous window's peak in bytes */
  reset(): number;
  peak(): number;
  /** the latest reading in bytes (0 before the first) */
  current(): number;
  /** the highest reading between two performance.now() times of the current window, or 0 if none fell there */
  peakBetween(t0: number, t1: number): number;
  /** the current window's readings, times from performance.now() */
  readings(): readonly { t: number; bytes: number }[];
  stop(): void;
}

export function startGpuMemorySampler(intervalMs = 50): GpuMemorySampler | null {
  const probe = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], { encoding: 'utf8' });
  if (probe.status !== 0 || !probe.stdout) return null;
  const gpu = probe.stdout.trim().split('\n')[0];
  let peak = 0;
  let current = 0;
  // readings of the current window with their arrival time: per-scale peaks of the row's best run
  let samples: { t: number; bytes: number }[] = [];
  let buf = '';
  const child: ChildProcess = spawn(
    'nvidia-smi',
    ['--query-gpu=memory.used', '--format=csv,noheader,nounits', `-lms`, String(intervalMs)],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => {
    buf += s;
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) {
      const mib = Number(l.trim().split(/\s+/)[0]);
      if (!Number.isFinite(mib)) continue;
      current = mib * 2 ** 20;
      peak = Math.max(peak, current);
      samples.push({ t: performance.now(), bytes: current });
    }
  });
  child.unref();
  return {
    gpu,
    reset() {
      const p = peak;
      peak = 0;
      samples = [];
      return p;
    },
    peak: () => peak,
    current: () => current,
    peakBetween: (t0, t1) => samples.reduce((m, s) => (s.t >= t0 && s.t <= t1 ? Math.max(m, s.bytes) : m), 0),
    readings: () => samples,
    stop: () => child.kill(),
  };
}
