import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pg from 'pg';
import { jsonLiteral } from '../../../src/store/event-append.js';

/** What the append wrote before: pg's own quoting of the JSON text. */
const viaPg = (value: unknown) => pg.escapeLiteral(JSON.stringify(value));

/** Strings made mostly of the characters a literal escapes. */
const escapeRich = fc.string({
  unit: fc.constantFrom("'", '\\', '"', 'a', 'E', ' ', '\n', 'é', '😀'),
  maxLength: 40,
});

describe('jsonLiteral', () => {
  it('quotes JSON text without a backslash as a plain literal, quotes doubled', () => {
    expect(jsonLiteral([{ data: "it's" }])).toBe(`'[{"data":"it''s"}]'`);
  });

  it('prefixes a literal with a backslash with E and doubles its backslashes', () => {
    expect(jsonLiteral({ path: "C:\\x'" })).toBe(` E'{"path":"C:\\\\\\\\x''"}'`);
    expect(jsonLiteral('a"b')).toBe(` E'"a\\\\"b"'`);
  });

  it('gives what pg.escapeLiteral gives for any JSON value', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => jsonLiteral(value) === viaPg(value)));
  });

  it('gives what pg.escapeLiteral gives for values full of quotes and backslashes', () => {
    const value = fc.oneof(
      escapeRich,
      fc.array(escapeRich),
      fc.dictionary(escapeRich, fc.oneof(escapeRich, fc.jsonValue())),
    );
    fc.assert(fc.property(value, (v) => jsonLiteral(v) === viaPg(v)));
  });
});
