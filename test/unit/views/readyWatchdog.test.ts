/**
 * The webview watchdog: a page that never says it is ready is reloaded after the timeout, at most
 * `attempts` times, then reported once; a ready page, a hidden one or a page ready after a reload
 * is left alone.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { ReadyWatchdog } from '../../../src/views/readyWatchdog';

/** a watchdog (1 s, two reloads) under mocked timers, and what it did */
function withWatchdog(f: (w: ReadyWatchdog, events: string[]) => void): void {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const events: string[] = [];
    const w = new ReadyWatchdog({
      timeoutMs: 1000,
      attempts: 2,
      reload: () => events.push('reload'),
      gaveUp: () => events.push('gave up'),
    });
    f(w, events);
  } finally {
    mock.timers.reset();
  }
}

test('a page that never says ready is reloaded after the timeout, twice, then reported once', () => {
  withWatchdog((w, events) => {
    w.arm();
    mock.timers.tick(999);
    assert.deepEqual(events, [], 'not before the timeout');
    mock.timers.tick(1);
    assert.deepEqual(events, ['reload']);
    mock.timers.tick(1000);
    assert.deepEqual(events, ['reload', 'reload']);
    mock.timers.tick(1000);
    assert.deepEqual(events, ['reload', 'reload', 'gave up']);
    mock.timers.tick(10_000);
    assert.deepEqual(events, ['reload', 'reload', 'gave up'], 'nothing after giving up');
  });
});

test('a ready page, a hidden one, and one ready after a reload are left alone; ready resets the count', () => {
  withWatchdog((w, events) => {
    w.arm();
    mock.timers.tick(500);
    w.ready();
    mock.timers.tick(5000);
    assert.deepEqual(events, [], 'ready in time');

    w.arm();
    w.stop();
    mock.timers.tick(5000);
    assert.deepEqual(events, [], 'hidden: no page to wait for');

    w.arm();
    mock.timers.tick(1000);
    assert.deepEqual(events, ['reload']);
    w.ready();
    mock.timers.tick(5000);
    assert.deepEqual(events, ['reload'], 'the reloaded page said ready');

    // the count starts again after a ready page: two more reloads before giving up
    w.arm();
    for (let i = 0; i < 3; i++) mock.timers.tick(1000);
    assert.deepEqual(events, ['reload', 'reload', 'reload', 'gave up']);
  });
});
