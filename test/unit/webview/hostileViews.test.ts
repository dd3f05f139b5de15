/**
 * The views' own defences against hostile data: absurd model and run sizes are refused with a
 * sentence (the renderer shows it in its error box) before anything is drawn or allocated, and CSV
 * exports keep text that a spreadsheet would run as a formula as text.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { csvCell, toCsv, validateProfileShape, validateRunPayload, validateRunShape, VIEW_LIMITS } from '../../../webview/shared/data';
import { fidelityCsv } from '../../../webview/shared/memory';
import { smallPayload, smallProfile, smallRun } from '../../fixtures/webview/makeFixtures';

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

test('the fixtures pass, so the refusals below are about the sizes alone', () => {
  validateProfileShape(smallProfile());
  validateRunShape(smallRun().run);
  validateRunPayload(smallPayload());
});

test('absurd depths, head counts, scale counts, token maps and row counts are refused before drawing', () => {
  const cases: [string, (r: ReturnType<typeof smallRun>['run']) => void, RegExp][] = [
    ['depth 10^9', (r) => (r.model.depth = 1e9), /the run's model depth is 1000000000, more than the 1024/],
    ['10^6 heads', (r) => (r.model.numHeads = 1e6), /the run's head count is 1000000/],
    ['a 10^5-side token map', (r) => (r.schedule[0] = { h: 100000, w: 1 }), /a token map side in the run is 100000/],
    ['1000 scales', (r) => (r.schedule = Array.from({ length: 1000 }, () => ({ h: 1, w: 1 }))), /the number of scales in the run is 1000/],
    [
      'too many tokens',
      (r) => (r.schedule = Array.from({ length: 10 }, () => ({ h: 1000, w: 1000 }))),
      /the token count of the run is 10000000/,
    ],
    ['10^7 retention rows', (r) => (r.retention!.batchRows = 1e7), /the retention index's row count is 10000000/],
    [
      'a KV report with 10^5 layers',
      (r) => (r.kv.perScale[0].perLayerTokens = new Array(100000).fill(1)),
      /the layers of KV report entry 0 is 100000/,
    ],
  ];
  for (const [what, spoil, msg] of cases) {
    const r = clone(smallRun().run);
    spoil(r);
    assert.throws(() => validateRunShape(r), msg, what);
  }
  const p = clone(smallProfile());
  p.model.depth = 5000;
  assert.throws(() => validateProfileShape(p), /the profile's model depth is 5000, more than the 1024/);
  const q = clone(smallProfile());
  q.scales[0].shape = { h: 4096, w: 4096 };
  assert.throws(() => validateProfileShape(q), /scale 0's token map side is 4096/);
  assert.ok(VIEW_LIMITS.depth >= 40 && VIEW_LIMITS.heads >= 24, 'Infinity-8B (40 layers, 24 heads) stays drawable');
});

test('CSV cells that start like a formula get a leading quote; numbers, negative ones too, do not', () => {
  for (const s of ['=HYPERLINK("http://x","y")', '+1+cmd', '-2+3', '@SUM(A1)', '\tx', '\r=1'])
    assert.ok(csvCell(s).replace(/^"/, '').startsWith("'"), s);
  assert.equal(csvCell('=1+1'), "'=1+1");
  assert.equal(csvCell('=a,b'), `"'=a,b"`);
  for (const v of [-3, -0.5, 1e-7, '-12.5', '+4', '-1e-3']) assert.equal(csvCell(v), String(v));
  assert.equal(csvCell('a red apple'), 'a red apple');
  assert.equal(toCsv(['h'], [['=cmd|"/c calc"!A0']]), 'h\n"\'=cmd|""/c calc""!A0"\n');
  // an export that carries user text: the prompt in the fidelity CSV
  const run = clone(smallRun().run);
  run.fidelity = {
    referenceRun: 'a',
    candidateRun: 'b',
    policy: { name: 'scalekv' },
    images: [{ prompt: '=HYPERLINK("http://evil")', seed: 1, psnr: 30, ssim: 0.9, lpips: null }],
    tokenAgreement: [{ scaleIndex: 0, agreement: 1 }],
    kvHeldRatio: 0.1,
    kvPeakRatio: 0.2,
    timePerScale: [],
    lpipsNote: '',
  } as never;
  const csv = fidelityCsv(run.fidelity);
  assert.ok(csv.includes(`"'=HYPERLINK(""http://evil"")"`), csv);
  assert.ok(!/(^|,)=HYPERLINK/m.test(csv));
});
