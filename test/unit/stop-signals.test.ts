import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { REPEAT_WINDOW_MS, type StopRequests, onStopSignals } from '../../src/stop-signals.js';

/** The policy with a stand-in emitter and a clock the test moves; end to end: test/faults. */
function listening() {
  const emitter = new EventEmitter();
  let now = 10_000;
  const calls: string[] = [];
  const requests: StopRequests = {
    first: (signal) => calls.push(`first ${signal}`),
    insist: (signal) => calls.push(`insist ${signal}`),
  };
  const source = { on: emitter.on.bind(emitter), now: () => now };
  onStopSignals(requests, source);
  const send = (signal: NodeJS.Signals, afterMs = 0) => {
    now += afterMs;
    emitter.emit(signal, signal);
  };
  return { calls, send, emitter };
}

describe('onStopSignals', () => {
  it('stops gracefully on the first SIGTERM or SIGINT', () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { calls, send } = listening();
      send(signal);
      expect(calls).toEqual([`first ${signal}`]);
    }
  });

  it('takes a repeat within the window as the same request (npm forwards a Ctrl-C)', () => {
    const { calls, send } = listening();
    send('SIGINT');
    send('SIGINT');
    send('SIGTERM', REPEAT_WINDOW_MS - 1);
    expect(calls).toEqual(['first SIGINT']);
  });

  it('insists on every signal from the end of the window on', () => {
    const { calls, send } = listening();
    send('SIGINT');
    send('SIGTERM', REPEAT_WINDOW_MS);
    send('SIGINT', 5_000);
    expect(calls).toEqual(['first SIGINT', 'insist SIGTERM', 'insist SIGINT']);
  });

  it('keeps listening for good, so no stop signal meets the default action', () => {
    const { send, emitter } = listening();
    send('SIGTERM');
    send('SIGINT', REPEAT_WINDOW_MS);
    expect(emitter.listenerCount('SIGTERM')).toBe(1);
    expect(emitter.listenerCount('SIGINT')).toBe(1);
  });
});
