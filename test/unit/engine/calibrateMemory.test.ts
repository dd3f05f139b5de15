/**
 * Calibration's memory: it runs layer by layer, so the fused graphs' weights are let go before it starts
 * and its block sessions (a float32 copy of every block's weights, 8.8 GB for Infinity-2B) when it ends,
 * also when it is cancelled; a fused generation afterwards uploads its weights again and draws the same image.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { calibrateProfile } from '../../../src/engine/calibrate';
import { generateImages, type GenerationOptions } from '../../../src/engine/generate';
import { loadModel } from '../../../src/engine/loadModel';
import { scaleSchedule } from '../../../src/model/schedule';
import { createPolicy } from '../../../src/scalekv/policies';
import { calibrateRequest } from '../../../src/shared/requests';
import { ctx, tempDir, TINY } from './helpers';

test('calibration lets the fused weights go before it runs and its block sessions after, cancelled or not', async () => {
  const m = await loadModel(TINY, 'cpu', ctx());
  try {
    const gen = m.generation;
    const schedule = scaleSchedule(1, '0.06M');
    const full = (): GenerationOptions => ({
      prompts: ['a red circle'],
      seed: 5,
      aspectRatio: 1,
      resolution: '0.06M',
      cfg: 3,
      tau: 1,
      topK: 0,
      topP: 0,
      policy: createPolicy(
        { name: 'full' },
        { depth: m.cfg.depth, numHeads: m.cfg.numHeads, headDim: m.cfg.embedDim / m.cfg.numHeads, schedule },
      ),
      queryMode: 'code',
      recordRetention: false,
      skipDecode: true,
    });
    const before = await generateImages(gen, full());
    assert.equal(before.runner, 'fused');

    const events: string[] = [];
    const release = gen.releaseFused!.bind(gen);
    gen.releaseFused = async () => {
      events.push(`fused released with ${gen.sessions.blockSessions} block sessions`);
      await release();
    };
    const dir = tempDir('calibrate-memory');
    const req = calibrateRequest({
      modelPath: TINY,
      prompts: ['a red circle', 'a blue square'],
      resolution: '0.06M',
      provider: 'cpu',
      outPath: join(dir, 'p.json'),
    });
    let most = 0;
    await calibrateProfile(
      m,
      req,
      ctx(() => void (most = Math.max(most, gen.sessions.blockSessions))),
    );
    assert.deepEqual(events, ['fused released with 0 block sessions']);
    assert.ok(most >= m.cfg.depth, `calibration built a session per block and statistics variant (${most})`);
    assert.equal(gen.sessions.blockSessions, 0, 'and let them all go');

    // cancelled half way: the block sessions still go
    const ac = new AbortController();
    await assert.rejects(
      calibrateProfile(
        m,
        { ...req, outPath: join(dir, 'q.json') },
        ctx((p) => (p.scaleIndex === 3 ? ac.abort() : undefined), ac.signal),
      ),
      /cancel/i,
    );
    assert.equal(gen.sessions.blockSessions, 0);

    // the fused path uploads its weights again and draws what it drew before
    const after = await generateImages(gen, full());
    assert.equal(after.runner, 'fused');
    assert.deepEqual(after.bits, before.bits);
  } finally {
    await m.release();
  }
});
