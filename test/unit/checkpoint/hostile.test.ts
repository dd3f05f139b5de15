/**
 * Hostile checkpoint files, crafted here byte by byte: each is refused with a ScaleKVError that says
 * what is wrong, in bounded time (a separate process, killed if it hangs) and bounded memory (its
 * peak RSS growth stays under twice the file plus a fixed allowance), and nothing in them runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { constants, deflateRawSync } from 'node:zlib';
import { openCheckpoint } from '../../../src/checkpoint';
import { SafetensorsReader } from '../../../src/checkpoint/safetensors';
import { ScaleKVError } from '../../../src/shared/errors';
import { tempDir } from '../engine/helpers';
import { oneTensorPickle, Pk, probe, writeArchive, writeZip, type ProbeResult } from './hostileFiles';

/** what a probe may grow by besides twice the file: Node's own heap noise, far below any blow-up */
const ALLOWANCE = 48 * 1024 * 1024;

function refusedInBounds(path: string, r: ProbeResult, message: RegExp, code = 'E_CHECKPOINT_CORRUPT'): void {
  assert.equal(r.outcome, 'error', `${path}: ${JSON.stringify(r)}`);
  assert.equal(r.errorName, 'ScaleKVError', r.message);
  assert.equal(r.code, code, r.message);
  assert.match(r.message!, message);
  const bound = 2 * statSync(path).size + ALLOWANCE;
  assert.ok(r.peakGrowth <= bound, `peak memory grew by ${r.peakGrowth} bytes, more than ${bound}`);
}

function thrown(f: () => unknown): ScaleKVError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ScaleKVError, `expected a ScaleKVError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    return e;
  }
  assert.fail('expected an error');
}

const f32 = (...xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
const plain = (p: Pk, v: number) => p.int(v);

test('a pickle of memo-shared lists ("billion laughs") is refused instead of flattened', { timeout: 30000 }, () => {
  const dir = tempDir('laughs');
  // level 0 holds one real tensor; level i lists level i-1 ten times: 10^30 paths from ~2 KB
  const p = new Pk()
    .raw(0x5d)
    .mark()
    .tensor(
      '0',
      1,
      (q) => q.int(0),
      (q) => q.ints([1]),
      (q) => q.ints([1]),
    )
    .raw(0x65)
    .put(0);
  for (let i = 1; i <= 30; i++) {
    p.mark();
    for (let j = 0; j < 10; j++) p.get(i - 1);
    p.raw(0x6c).put(i);
  }
  const path = join(dir, 'laughs.pth');
  writeArchive(path, p.stop(), { '0': f32(1) });
  refusedInBounds(path, probe(path), /more entries than its \d+ bytes can hold/);
});

test('a 300 KB integer (LONG4) is refused at once', { timeout: 30000 }, () => {
  const path = join(tempDir('long4'), 'long.pth');
  const n = 300_000;
  const p = new Pk().raw(0x8b).u32(n);
  for (let i = 0; i < n; i++) p.raw(0x7f);
  writeArchive(path, p.raw(0x30).raw(0x7d).stop());
  refusedInBounds(path, probe(path), /an integer of 300000 bytes/);
});

/** a raw deflate stream of `chunks` x 16 MB of zeros, from ~16 KB of compressed blocks repeated */
function zeroBomb(chunks: number): Uint8Array {
  const block = deflateRawSync(Buffer.alloc(16 << 20), { finishFlush: constants.Z_SYNC_FLUSH, level: 9 });
  return Buffer.concat([...Array.from({ length: chunks }, () => block), Buffer.from([0x03, 0x00])]);
}

test('a deflated data.pkl that inflates to hundreds of MB is refused by its declared size, or stopped at it', { timeout: 30000 }, () => {
  const dir = tempDir('bomb');
  const bomb = zeroBomb(16); // 256 MB of zeros
  const write = (path: string, declaredSize: number) =>
    writeZip(path, [{ name: 'archive/data.pkl', data: bomb, method: 8, precompressed: true, declaredSize }]);
  const honest = join(dir, 'honest.pth');
  write(honest, 256 << 20);
  assert.ok(statSync(honest).size < 1 << 20, 'the bomb itself is small');
  refusedInBounds(honest, probe(honest), /declares 268435456 bytes, more than \d+ \(twice the archive\)/);
  const liar = join(dir, 'liar.pth');
  write(liar, 1000);
  refusedInBounds(liar, probe(liar), /inflates past its declared 1000 bytes/);
});

test('a 4-byte storage under a stride-0 shape of 2^28 elements is refused before anything is allocated', { timeout: 30000 }, () => {
  const path = join(tempDir('stride0'), 'repeat.pth');
  writeArchive(
    path,
    oneTensorPickle(
      'w',
      1,
      (p) => p.int(0),
      (p) => p.ints([1 << 28]),
      (p) => p.ints([0]),
    ),
    { '0': f32(7) },
  );
  refusedInBounds(path, probe(path), /'w' of shape \[268435456\] claims 268435456 elements from a storage of 1 .*repeats storage elements/);
});

test(
  'a FIFO named *.pth, or named as a shard, is refused instead of blocking forever',
  { timeout: 30000, skip: process.platform === 'win32' && 'no FIFOs' },
  () => {
    const dir = tempDir('fifo');
    const fifo = join(dir, 'pipe.pth');
    const mk = spawnSync('mkfifo', [fifo]);
    if (mk.status !== 0) return assert.fail(`mkfifo failed: ${mk.stderr.toString()}`);
    refusedInBounds(fifo, probe(fifo), /is a named pipe \(FIFO\), not a checkpoint file/);
    spawnSync('mkfifo', [join(dir, 'shard.safetensors')]);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'shard.safetensors' } }));
    refusedInBounds(
      join(dir, 'model.safetensors.index.json'),
      probe(join(dir, 'model.safetensors.index.json')),
      /shard\.safetensors is a named pipe/,
    );
    spawnSync('mkfifo', [join(dir, 'fifo.index.json')]);
    refusedInBounds(join(dir, 'fifo.index.json'), probe(join(dir, 'fifo.index.json')), /is a named pipe \(FIFO\), not a checkpoint index/);
  },
);

test('shapes, strides and offsets that are negative, NaN, fractional or not tuples are refused, not read', () => {
  const dir = tempDir('shapes');
  const cases: [string, Uint8Array, RegExp][] = [
    [
      'negative shape',
      oneTensorPickle(
        'w',
        4,
        (p) => plain(p, 0),
        (p) => p.ints([-1, -4]),
        (p) => p.ints([4, 1]),
      ),
      /a tensor shape\[0\] is -1; it must be a non-negative integer/,
    ],
    [
      'NaN shape',
      oneTensorPickle(
        'w',
        4,
        (p) => plain(p, 0),
        (p) => p.mark().float(NaN).tuple(),
        (p) => p.ints([1]),
      ),
      /a tensor shape\[0\] is NaN/,
    ],
    [
      'fractional stride',
      oneTensorPickle(
        'w',
        4,
        (p) => plain(p, 0),
        (p) => p.ints([2, 2]),
        (p) => p.mark().float(1.5).int(1).tuple(),
      ),
      /a tensor stride\[0\] is 1\.5/,
    ],
    [
      'negative stride',
      oneTensorPickle(
        'w',
        4,
        (p) => plain(p, 0),
        (p) => p.ints([2, 2]),
        (p) => p.ints([-2, 1]),
      ),
      /a tensor stride\[0\] is -2/,
    ],
    [
      'negative offset',
      oneTensorPickle(
        'w',
        4,
        (p) => p.int(-2),
        (p) => p.ints([2]),
        (p) => p.ints([1]),
      ),
      /a tensor storage offset is -2/,
    ],
    // `size.map is not a function` before
    [
      'shape not a tuple',
      oneTensorPickle(
        'w',
        4,
        (p) => plain(p, 0),
        (p) => p.int(4),
        (p) => p.ints([1]),
      ),
      /a tensor shape is 4, not a tuple of integers/,
    ],
    [
      'strides of another rank',
      oneTensorPickle(
        'w',
        4,
        (p) => plain(p, 0),
        (p) => p.ints([2, 2]),
        (p) => p.ints([1]),
      ),
      /shape \[2,2\] has 1 strides/,
    ],
    [
      'negative numel',
      oneTensorPickle(
        'w',
        -4,
        (p) => plain(p, 0),
        (p) => p.ints([4]),
        (p) => p.ints([1]),
      ),
      /element count of storage 0 is -4/,
    ],
  ];
  for (const [what, pkl, msg] of cases) {
    const path = join(dir, `${what.replace(/ /g, '-')}.pth`);
    writeArchive(path, pkl, { '0': f32(1, 2, 3, 4) });
    const e = thrown(() => openCheckpoint(path).readFloat32('w'));
    assert.equal(e.code, 'E_CHECKPOINT_CORRUPT', what);
    assert.match(e.message, msg, what);
    assert.ok(e.message.includes(path), `${what}: the message names the file`);
  }
});

test('a stored zip entry whose declared size differs from the bytes it holds is refused', () => {
  const dir = tempDir('stored');
  const pkl = oneTensorPickle(
    'w',
    4,
    (p) => p.int(0),
    (p) => p.ints([4]),
    (p) => p.ints([1]),
  );
  const path = join(dir, 'lying.pth');
  // the storage holds 8 bytes but says 16: the tensor would read 8 bytes of the next entry
  writeZip(path, [
    { name: 'archive/data.pkl', data: pkl },
    { name: 'archive/data/0', data: f32(1, 2), declaredSize: 16 },
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
  const e = thrown(() => openCheckpoint(path).readFloat32('w'));
  assert.equal(e.code, 'E_CHECKPOINT_CORRUPT');
  assert.match(e.message, /stored entry archive\/data\/0 declares 16 bytes but holds 8/);
});

function writeRawSafetensors(path: string, header: unknown, data: Uint8Array): void {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, data]));
}

test('safetensors offsets that are negative, overlapping or outside the data area, and bad shapes, are refused', () => {
  const dir = tempDir('st');
  const data = f32(1, 2, 3, 4, 5, 6);
  const cases: [string, unknown, RegExp, string?][] = [
    ['negative offsets', { a: { dtype: 'F32', shape: [4], data_offsets: [-8, 8] } }, /tensor 'a' has data_offsets \[-8,8\]/],
    [
      'overlap',
      { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } },
      /tensors 'a' and 'b' overlap/,
    ],
    [
      'past the data',
      { a: { dtype: 'F32', shape: [8], data_offsets: [0, 32] } },
      /tensor 'a' ends at byte 32 of the data, which has 24/,
      'E_CHECKPOINT_TRUNCATED',
    ],
    ['reversed', { a: { dtype: 'F32', shape: [0], data_offsets: [16, 8] } }, /begin <= end/],
    ['negative shape', { a: { dtype: 'F32', shape: [-1, -4], data_offsets: [0, 16] } }, /has shape \[-1,-4\]/],
    ['fractional shape', { a: { dtype: 'F32', shape: [2.5, 2], data_offsets: [0, 20] } }, /has shape \[2\.5,2\]/],
    ['header null', null, /header is not a JSON object/],
    ['header a list', [1, 2], /header is not a JSON object/],
    ['entry null', { a: null }, /tensor 'a' has no \{dtype, shape, data_offsets\} entry/],
    ['shape a number', { a: { dtype: 'F32', shape: 4, data_offsets: [0, 16] } }, /has shape 4/],
  ];
  for (const [what, header, msg, code] of cases) {
    const path = join(dir, `${what.replace(/ /g, '-')}.safetensors`);
    writeRawSafetensors(path, header, data);
    // the reader itself: openCheckpoint only hands it files whose header starts with '{'
    const e = thrown(() => {
      const r = new SafetensorsReader(path);
      for (const k of r.keys()) r.readFloat32(k);
    });
    assert.equal(e.code, code ?? 'E_CHECKPOINT_CORRUPT', `${what}: ${e.message}`);
    assert.match(e.message, msg, what);
  }
});

test('a pickle that calls posix.system holds no tensors and says which global it refused, like weights_only', () => {
  const path = join(tempDir('posix'), 'evil.pth');
  writeArchive(path, new Pk().global('posix', 'system').mark().str('touch /tmp/scalekv-pwned').tuple().reduce().stop());
  const e = thrown(() => openCheckpoint(path));
  assert.equal(e.code, 'E_CHECKPOINT_CORRUPT');
  assert.match(e.message, /holds no tensors\. It asks to call posix\.system, which ScaleKV never runs/);
});

test('eleven pickle gadgets run nothing and are refused or ignored', () => {
  const dir = tempDir('gadgets');
  const marker = join(dir, 'ran');
  const cmd = `touch ${marker}`;
  const tensorDict = (p: Pk) =>
    p
      .raw(0x7d)
      .mark()
      .str('w')
      .tensor(
        '0',
        1,
        (q) => q.int(0),
        (q) => q.ints([1]),
        (q) => q.ints([1]),
      );
  const gadgets: [string, Uint8Array, RegExp | null][] = [
    ['GLOBAL + REDUCE', new Pk().global('os', 'system').mark().str(cmd).tuple().reduce().stop(), /os\.system/],
    ['STACK_GLOBAL + REDUCE', new Pk().str('posix').str('system').raw(0x93).mark().str(cmd).tuple().reduce().stop(), /posix\.system/],
    [
      'builtins.exec',
      new Pk().global('builtins', 'exec').mark().str(`__import__('os').system('${cmd}')`).tuple().reduce().stop(),
      /builtins\.exec/,
    ],
    [
      'BUILD on an object',
      new Pk().global('subprocess', 'Popen').raw(0x29, 0x81).raw(0x7d).mark().str('args').str(cmd).raw(0x75, 0x62).stop(),
      /subprocess\.Popen/,
    ],
    [
      'INST',
      new Pk()
        .mark()
        .str(cmd)
        .raw(0x69, ...Buffer.from('os\nsystem\n'))
        .stop(),
      /unsupported opcode 0x69 \(INST\)/,
    ],
    ['OBJ', new Pk().mark().global('os', 'system').str(cmd).raw(0x6f).stop(), /unsupported opcode 0x6f \(OBJ\)/],
    ['NEWOBJ_EX', new Pk().global('os', 'system').mark().str(cmd).tuple().raw(0x7d, 0x92).stop(), /os\.system/],
    [
      'getattr chain',
      new Pk()
        .global('builtins', 'getattr')
        .mark()
        .global('builtins', '__import__')
        .mark()
        .str('os')
        .tuple()
        .reduce()
        .str('system')
        .tuple()
        .reduce()
        .mark()
        .str(cmd)
        .tuple()
        .reduce()
        .stop(),
      /REDUCE on a non-callable/,
    ],
    [
      'persistent id naming a gadget',
      new Pk().mark().str('storage').global('os', 'system').str('0').str('cpu').int(1).tuple().raw(0x51).stop(),
      /unsupported tensor storage type the global os\.system/,
    ],
    ['text persistent id', new Pk().raw(0x50, ...Buffer.from(`${cmd}\n`)).stop(), /unsupported opcode 0x50 \(PERSID\)/],
    // a gadget beside real weights: the weights load, the gadget stays an inert value
    [
      'gadget inside a state_dict',
      tensorDict(new Pk()).str('x').global('os', 'system').mark().str(cmd).tuple().reduce().raw(0x75).stop(),
      null,
    ],
  ];
  for (const [what, pkl, msg] of gadgets) {
    const path = join(dir, `${what.replace(/[^\w]+/g, '-')}.pth`);
    writeArchive(path, pkl, { '0': f32(5) });
    if (msg) {
      const e = thrown(() => openCheckpoint(path));
      assert.equal(e.code, 'E_CHECKPOINT_CORRUPT', what);
      assert.match(e.message, msg, what);
    } else {
      const r = openCheckpoint(path);
      assert.deepEqual(r.keys(), ['w'], what);
      assert.deepEqual(Array.from(r.readFloat32('w')), [5], what);
      r.close();
    }
    assert.ok(!existsSync(marker), `${what} ran a command`);
  }
});

test('an index naming itself (or another index) as a shard is refused, not recursed into', () => {
  const dir = tempDir('selfidx');
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'model.safetensors.index.json' } }));
  const e = thrown(() => openCheckpoint(join(dir, 'model.safetensors.index.json')).readFloat32('a'));
  assert.equal(e.code, 'E_CHECKPOINT_CORRUPT');
  assert.match(e.message, /names the index model\.safetensors\.index\.json as the shard of tensor 'a'/);
  for (const [what, idx, msg] of [
    ['a list', { weight_map: ['a'] }, /has no weight_map object/],
    ['null', null, /has no weight_map object/],
    ['a number as file', { weight_map: { a: 3 } }, /names the shard of tensor 'a' as 3, which is not a file name/],
  ] as const) {
    writeFileSync(join(dir, 'x.index.json'), JSON.stringify(idx));
    const e2 = thrown(() => openCheckpoint(join(dir, 'x.index.json')));
    assert.equal(e2.code, 'E_CHECKPOINT_CORRUPT', what);
    assert.match(e2.message, msg, what);
  }
});

test('a zip64 field shorter than the sizes it must carry is refused, not read past', () => {
  const path = join(tempDir('zip64'), 'short64.pth');
  writeArchive(path, new Pk().raw(0x7d).stop());
  const b = Buffer.from(readFileSync(path));
  // mark the first directory entry's size as "in the zip64 field" without giving it one
  const cd = b.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  b.writeUInt32LE(0xffffffff, cd + 24);
  b.writeUInt32LE(0xffffffff, cd + 20);
  writeFileSync(path, b);
  const e = thrown(() => openCheckpoint(path));
  assert.equal(e.code, 'E_CHECKPOINT_CORRUPT');
});

test('a list of 200k items and lists nested 100k deep give ScaleKVErrors, not stack overflows', () => {
  const dir = tempDir('deep');
  // APPENDS of 200k ints: push(...items) overflowed the call stack
  const wide = new Pk().raw(0x7d).str('w').raw(0x5d).mark();
  for (let i = 0; i < 200_000; i++) wide.raw(0x4b, i & 255);
  const widePath = join(dir, 'wide.pth');
  writeArchive(widePath, wide.raw(0x65, 0x73).stop());
  assert.match(thrown(() => openCheckpoint(widePath)).message, /holds no tensors\.$/);
  // [[[[...]]]]: flattening recursed once per level
  const deep = new Pk().raw(0x5d);
  for (let i = 0; i < 100_000; i++) deep.raw(0x85); // TUPLE1: wrap what is on top
  const deepPath = join(dir, 'deep.pth');
  writeArchive(deepPath, deep.stop());
  const e = thrown(() => openCheckpoint(deepPath));
  assert.equal(e.code, 'E_CHECKPOINT_CORRUPT');
  assert.match(e.message, /nested more than 32 levels deep/);
});
