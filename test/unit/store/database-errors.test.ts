import { describe, expect, it } from 'vitest';
import { databaseErrorCode, isDatabaseUnavailable } from '../../../src/store/database-errors.js';
import { resolveDatabaseTarget } from '../../../src/store/database.js';

const wrapped = (cause: object) => Object.assign(new Error('Failed query'), { cause });

describe('database error classification', () => {
  it('finds the SQLSTATE through wrappers', () => {
    const error = wrapped({ code: '23505', constraint: 'agents_name_key' });
    expect(databaseErrorCode(error)).toBe('23505');
    expect(databaseErrorCode(new Error('plain'))).toBeUndefined();
  });

  it.each([
    ['a refused connection', wrapped({ code: 'ECONNREFUSED' })],
    ['a Unix socket that is gone with its stopped server', wrapped({ code: 'ENOENT' })],
    ['an administrator shutdown', wrapped({ code: '57P01' })],
    ['a terminated connection', wrapped(new Error('Connection terminated unexpectedly'))],
    ['a pool that was ended', new Error('Cannot use a pool after calling end on the pool')],
    ['a closed PGlite', new Error('PGlite is closed')],
  ])('treats %s as unavailable', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it('does not treat query errors or non-errors as unavailable', () => {
    expect(isDatabaseUnavailable(wrapped({ code: '23505' }))).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
    expect(isDatabaseUnavailable('text')).toBe(false);
  });

  it('stops following a cause chain that loops', () => {
    const looping: { cause?: unknown; message: string } = { message: 'loop' };
    looping.cause = looping;
    expect(databaseErrorCode(looping)).toBeUndefined();
  });
});

describe('resolveDatabaseTarget', () => {
  it('uses PGlite under DATA_DIR without a URL, in memory for memory://, PostgreSQL otherwise', () => {
    expect(resolveDatabaseTarget(undefined, './data', 5)).toEqual({
      engine: 'pglite',
      dataDir: './data/pglite',
    });
    expect(resolveDatabaseTarget('memory://', './data', 5)).toEqual({
      engine: 'pglite',
      dataDir: null,
    });
    expect(resolveDatabaseTarget('postgres://u@h/db', './data', 5)).toEqual({
      engine: 'postgres',
      url: 'postgres://u@h/db',
      poolSize: 5,
    });
  });
});
