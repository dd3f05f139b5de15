// A stand-in engine process for EngineClient tests: behaves as told by the request's prompt.
process.on('message', (m) => {
  if (m.type === 'cancel') {
    if (process.env.FAKE_IGNORE_CANCEL) return; // a stuck engine: the client must kill it
    process.send({ type: 'error', id: m.id, error: { code: 'E_CANCELLED', message: 'cancelled' } });
    return;
  }
  if (m.type === 'shutdown') process.exit(0);
  const what = m.request?.prompts?.[0] ?? '';
  if (what === 'crash') process.exit(3);
  if (what === 'abort') process.abort();
  if (what === 'hang') return;
  if (what === 'slow') {
    process.send({ type: 'progress', id: m.id, progress: { stage: 'scale', message: 'scale 1', fraction: 0.5 } });
    return;
  }
  process.send({ type: 'progress', id: m.id, progress: { stage: 'scale', message: 'scale 1', fraction: 0.5 } });
  process.send({ type: 'result', id: m.id, result: { run: { id: what }, runPath: `/fake/${what}/run.json` } });
});
process.send({ type: 'ready' });
