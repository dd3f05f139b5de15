#!/usr/bin/env node
// Adds up the onnxruntime profiles that SCALEKV_ORT_PROFILE=DIR makes the engine write (one JSON file per
// session, written when the session is released), so "where does the time go" has an answer per op and
// per graph:
//   - "Node" events: the host time of every node run (on the CPU provider, its compute time; on WebGPU, the
//     time to record and dispatch its programs);
//   - "Api" events (WebGPU only, from the provider's timestamp queries): the GPU time of every program.
//
//   node bench/profile-summary.mjs DIR [--top 20] [--json OUT.json]
//
// Prints markdown: totals per graph (the file name up to its timestamp) and the ops with the most time.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const dir = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
if (!dir) {
  console.error('usage: node bench/profile-summary.mjs DIR [--top 20] [--json OUT.json]');
  process.exit(2);
}
const top = Number(opt('top', '20'));

const graphs = new Map(); // graph -> { hostUs, gpuUs, nodes, kernels }
const hostByOp = new Map(); // op -> { us, count }
const gpuByProgram = new Map(); // program -> { us, count }
const add = (map, key, us) => {
  const r = map.get(key) ?? { us: 0, count: 0 };
  r.us += us;
  r.count += 1;
  map.set(key, r);
};

let files;
try {
  files = readdirSync(dir).filter((f) => f.endsWith('.json'));
} catch (e) {
  console.error(`profile-summary: cannot read ${dir}: ${e.message}`);
  process.exit(2);
}
if (!files.length) {
  console.error(`profile-summary: no profiles (*.json) in ${dir}; run the engine with SCALEKV_ORT_PROFILE=${dir} first`);
  process.exit(2);
}
for (const file of files) {
  const graph = file.replace(/_\d{4}-\d{2}-\d{2}_[\d-]+_\d+\.json$/, '');
  let events;
  try {
    events = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  } catch (e) {
    console.error(`skipped ${file}: ${e.message}`);
    continue;
  }
  const g = graphs.get(graph) ?? { hostUs: 0, gpuUs: 0, nodes: 0, kernels: 0 };
  for (const e of events) {
    if (e.cat === 'Node' && e.name?.endsWith('_kernel_time')) {
      g.hostUs += e.dur;
      g.nodes += 1;
      add(hostByOp, e.args?.op_name ?? '?', e.dur);
    } else if (e.cat === 'Api') {
      g.gpuUs += e.dur;
      g.kernels += 1;
      // "<node name>&<program name>" on the WebGPU provider: the program says which kernel ran
      add(gpuByProgram, String(e.name).split('&').pop(), e.dur);
    }
  }
  graphs.set(graph, g);
}

const ms = (us) => (us / 1000).toFixed(1);
const lines = ['| graph | node runs | host ms | GPU programs | GPU ms |', '|---|---|---|---|---|'];
const sorted = [...graphs].sort((a, b) => b[1].hostUs + b[1].gpuUs - (a[1].hostUs + a[1].gpuUs));
for (const [name, g] of sorted) lines.push(`| ${name} | ${g.nodes} | ${ms(g.hostUs)} | ${g.kernels} | ${ms(g.gpuUs)} |`);
const table = (title, map) => {
  const total = [...map.values()].reduce((s, r) => s + r.us, 0);
  const rows = [...map].sort((a, b) => b[1].us - a[1].us).slice(0, top);
  return [
    '',
    `| ${title} | runs | ms | share |`,
    '|---|---|---|---|',
    ...rows.map(([k, r]) => `| ${k} | ${r.count} | ${ms(r.us)} | ${((100 * r.us) / (total || 1)).toFixed(1)}% |`),
  ];
};
lines.push(...table('op (host time)', hostByOp));
if (gpuByProgram.size) lines.push(...table('program (GPU time)', gpuByProgram));
console.log(lines.join('\n'));
const out = opt('json', null);
if (out) {
  const obj = (map) => Object.fromEntries([...map].map(([k, r]) => [k, r]));
  writeFileSync(out, JSON.stringify({ graphs: Object.fromEntries(graphs), hostByOp: obj(hostByOp), gpuByProgram: obj(gpuByProgram) }, null, 1));
}
