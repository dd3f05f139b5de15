/**
 * Outputs appear complete or not at all. A run folder is built as <id>.partial and renamed; a full
 * disk (a 2 MB tmpfs mounted by the test when it runs as root) leaves nothing partial and says
 * E_DISK_FULL; an unusable output location (a file, a missing parent, a read-only mount) fails before
 * the model is loaded; a profile with a deeply nested extra field is refused before computing, so no
 * images without run.json are left; a calibration that runs out of space leaves neither a profile nor
 * a temporary file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createEngine } from '../../../src/engine/engine';
import { type ScaleKVError } from '../../../src/shared/errors';
import { checkOutputFile, prepareOutputFolder, writeFileAtomic } from '../../../src/shared/outputFiles';
import type { Progress } from '../../../src/shared/types';
import { ctx, request, tempDir, TINY } from './helpers';

const engine = createEngine();
after(() => engine.dispose());

async function failure(p: Promise<unknown>): Promise<ScaleKVError> {
  try {
    await p;
  } catch (e) {
    return e as ScaleKVError;
  }
  assert.fail('expected an error');
}

const mounts: string[] = [];
after(() => {
  for (const m of mounts) execFileSync('umount', [m]);
});

/** a small tmpfs, or the reason there is none (not root, no mount) */
function tmpfs(options: string): string | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'needs root to mount a tmpfs' };
  const dir = tempDir('tmpfs');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    return { skip: `mount -t tmpfs failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}` };
  }
  mounts.push(dir);
  return dir;
}

/** fills a file system until about `leave` bytes are free */
function fill(dir: string, leave: number): void {
  const st = statfsSync(dir);
  const free = st.bavail * st.bsize;
  writeFileSync(join(dir, 'filler'), Buffer.alloc(Math.max(0, free - leave)));
}

test('writeFileAtomic replaces a file whole and leaves no temporary name', () => {
  const dir = tempDir('atomic');
  const f = join(dir, 'profile.json');
  writeFileAtomic(f, 'old');
  writeFileAtomic(f, 'new');
  assert.equal(readFileSync(f, 'utf8'), 'new');
  assert.deepEqual(readdirSync(dir), ['profile.json']);
});

test('output locations are checked: a file, a missing parent, a folder given as a file', () => {
  const dir = tempDir('where');
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  const code = (f: () => void, re: RegExp) => assert.throws(f, (e: ScaleKVError) => e.code === 'E_OUTPUT_PATH' && re.test(e.message));
  code(() => prepareOutputFolder(file), /is a file/);
  code(() => prepareOutputFolder(join(dir, 'missing', 'runs')), /parent folder .*missing does not exist/);
  code(() => prepareOutputFolder(join(file, 'runs')), /is a file/);
  code(() => checkOutputFile(join(dir, 'missing', 'p.json')), /does not exist/);
  code(() => checkOutputFile(dir), /it is a folder/);
  // a new folder under an existing one is made
  prepareOutputFolder(join(dir, 'runs'));
  assert.ok(readdirSync(dir).includes('runs'));
});

test('a generate into an unusable folder fails at once, before the model loads', async () => {
  const dir = tempDir('early');
  writeFileSync(join(dir, 'runs'), 'a file where the folder should be');
  for (const outDir of [join(dir, 'runs'), join(dir, 'no', 'such', 'parent')]) {
    const seen: Progress[] = [];
    const e = await failure(
      engine.generate(
        request({ outDir }),
        ctx((p) => seen.push(p)),
      ),
    );
    assert.equal(e.code, 'E_OUTPUT_PATH', e.message);
    assert.deepEqual(seen, [], 'no loading or computing was reported');
  }
  const cal = await failure(
    engine.calibrate(
      {
        modelPath: TINY,
        prompts: ['x'],
        targetRatio: 0.1,
        aspectRatio: 1,
        resolution: '0.06M',
        cfg: 3,
        provider: 'cpu',
        outPath: join(dir, 'none', 'p.json'),
      },
      ctx(),
    ),
  );
  assert.equal(cal.code, 'E_OUTPUT_PATH');
});

test('a read-only output folder fails at once with a clear message', async (t) => {
  const ro = tmpfs('size=1m,ro');
  if (typeof ro !== 'string') return t.skip(ro.skip);
  const e = await failure(engine.generate(request({ outDir: ro }), ctx()));
  assert.equal(e.code, 'E_OUTPUT_PATH');
  assert.match(e.message, /read-only/);
});

test('a full disk: E_DISK_FULL, and neither a partial nor a run folder is left', async (t) => {
  const mnt = tmpfs('size=2m');
  if (typeof mnt !== 'string') return t.skip(mnt.skip);
  // room for the run folder and a file or two, not for the whole run (about 230 KB at 0.06M)
  fill(mnt, 96 * 1024);
  const e = await failure(engine.generate(request({ outDir: mnt, policy: { name: 'full' } }), ctx()));
  assert.equal(e.code, 'E_DISK_FULL', e.message);
  assert.match(e.message, /No space left/);
  assert.deepEqual(readdirSync(mnt), ['filler']);
});

test('a full disk during calibration leaves no profile, state or temporary file', async (t) => {
  const mnt = tmpfs('size=2m');
  if (typeof mnt !== 'string') return t.skip(mnt.skip);
  fill(mnt, 0);
  const e = await failure(
    engine.calibrate(
      {
        modelPath: TINY,
        prompts: ['a red apple'],
        targetRatio: 0.1,
        aspectRatio: 1,
        resolution: '0.06M',
        cfg: 3,
        provider: 'cpu',
        outPath: join(mnt, 'profile.json'),
      },
      ctx(),
    ),
  );
  assert.equal(e.code, 'E_DISK_FULL', e.message);
  assert.deepEqual(readdirSync(mnt), ['filler']);
});

test('a profile with a deeply nested extra field is refused before computing, leaving nothing', async () => {
  const dir = tempDir('deep');
  const profile = JSON.parse(readFileSync(join(TINY, 'profile-0.06M-10pct.json'), 'utf8'));
  let nested = '1';
  for (let i = 0; i < 20000; i++) nested = `{"a":${nested}}`;
  const path = join(dir, 'deep.json');
  writeFileSync(path, JSON.stringify(profile).replace(/}$/, `,"extra":${nested}}`));
  const out = join(dir, 'runs');
  mkdirSync(out);
  const seen: string[] = [];
  const e = await failure(
    engine.generate(
      request({ outDir: out, policy: { name: 'scalekv', ratio: 0.1, profilePath: path } }),
      ctx((p) => seen.push(p.stage)),
    ),
  );
  assert.equal(e.code, 'E_PROFILE_INVALID', e.message);
  assert.match(e.message, /deep\.json/);
  assert.ok(!seen.includes('scale'), 'no scale was computed');
  assert.deepEqual(readdirSync(out), []);
});

test('a finished run is one complete folder: no .partial left beside it', async () => {
  const out = tempDir('whole');
  const { runPath, run } = await engine.generate(request({ outDir: out }), ctx());
  assert.deepEqual(readdirSync(out), [run.id]);
  assert.equal(runPath, join(out, run.id, 'run.json'));
  assert.ok(readdirSync(join(out, run.id)).includes('image-0.png'));
});
