// A stand-in engine process for EngineClient tests: behaves as told by the request's prompt.
process.on('message', (m) => {
  if (m.type === 'cancel') {
    if (process.env.FAKE_IGNORE_CANCEL) return; // a stuck engine: the client must kill it
    process.send({ type: 'error', id: m.id, error: { code: 'E_CANCELLED', message: 'cancelled' } });
    return;
  }
  if (m.type === 'shutdown') process.exit(0);
  const what = m.request?.prompts?.[0] ?? m.request?.modelPath ?? '';
  // as the real worker: acknowledge a request before working on it ("unacked-crash" dies before that)
  if (what === 'unacked-crash') process.exit(4);
  process.send({ type: 'accepted', id: m.id });
  if (what === 'crash') process.exit(3);
  if (what === 'abort') process.abort();
  if (what === 'hang') return;
  if (what === 'slow') {
    process.send({ type: 'progress', id: m.id, progress: { stage: 'scale', message: 'scale 1', fraction: 0.5 } });
    return;
  }
  process.send({ type: 'progress', id: m.id, progress: { stage: 'scale', message: 'scale 1', fraction: 0.5 } });
  // each method's own reply shape (src/engine/protocol.ts)
  const result =
    m.type === 'describeModel'
      ? { model: { name: what }, provider: { used: 'cpu' } }
      : { run: { id: what }, runPath: `/fake/${what}/run.json` };
  process.send({ type: 'result', id: m.id, result });
});
process.send({ type: 'ready' });
