import { describe, expect, it } from 'vitest';
import { pinNextTickShape } from '../../src/next-tick-shape.js';

/**
 * What the pin keeps; that it keeps V8's caches of nextTick monomorphic is the opt-in test/v8-probe
 * check.
 */
describe('pinNextTickShape', () => {
  it('keeps a real queue entry, the same one on every call', () => {
    const entry = pinNextTickShape() as Record<string | symbol, unknown>;
    // A third symbol (the AsyncLocalStorage store) joins them once anything in the process uses
    // one.
    const symbols = Object.getOwnPropertySymbols(entry).map(String);
    expect(symbols).toEqual(
      expect.arrayContaining(['Symbol(async_id_symbol)', 'Symbol(trigger_async_id_symbol)']),
    );
    expect(typeof entry.callback).toBe('function');
    expect(pinNextTickShape()).toBe(entry);
  });
});
