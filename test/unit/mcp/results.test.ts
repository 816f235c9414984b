import { describe, expect, it } from 'vitest';
import { ConflictError, UnprocessableError } from '../../../src/domain/errors.js';
import { preview, toolError } from '../../../src/mcp/results.js';

/** How a failed tool call reads to the agent: the problem's text, never the internals. */
describe('tool errors', () => {
  const logged: unknown[] = [];
  const sense = {
    isUnavailable: (error: unknown) => error instanceof Error && error.message === 'db down',
    logUnexpected: (error: unknown) => void logged.push(error),
  };
  const text = (error: unknown) =>
    (toolError(error, 'tool', sense).content[0] as { text: string }).text;

  it('writes a domain error as its problem, with each invalid field', () => {
    expect(toolError(new ConflictError('taken'), 'tool', sense)).toMatchObject({ isError: true });
    expect(text(new ConflictError('taken'))).toBe('Conflict (409): taken');
    const invalid = new UnprocessableError('bad', [{ path: '/a', message: 'is required' }]);
    expect(text(invalid)).toBe('Unprocessable Content (422): bad\n- /a: is required');
  });

  it('says 503 for an unreachable database and hides anything else, which it logs', () => {
    expect(text(new Error('db down'))).toMatch(/^Service Unavailable \(503\)/);
    expect(logged).toEqual([]);
    const secret = new Error('password=hunter2 in a stack');
    expect(text(secret)).toBe(
      'Internal Server Error (500): the call failed; the service logged why',
    );
    expect(logged).toEqual([secret]);
  });

  it('cuts long JSON in summaries', () => {
    expect(preview({ a: 1 })).toBe('{"a":1}');
    expect(preview('x'.repeat(5_000))).toMatch(/… \(5002 characters\)$/);
  });
});
