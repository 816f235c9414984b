import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  METADATA_MAX_BYTES,
  METADATA_MAX_DEPTH,
  METADATA_MAX_MEMBERS,
  holdsStorableText,
  isStorableText,
  metadataProblem,
  nameSchema,
  queryInteger,
  repeatable,
  storableString,
} from '../../../src/domain/common.js';
import { fieldErrors, messagesOf } from './field-errors.js';

const unstorable = ['a\u0000b', '\ud800', 'x\udfff', '\ufeffstart'];

describe('messages for a missing value', () => {
  const body = z.strictObject({ name: z.string(), count: z.number().optional() });

  it('says a missing field "is required"', () => {
    expect(fieldErrors(body, {})).toEqual([{ path: '/name', message: 'is required' }]);
  });

  it('tells a client that sent no body that a JSON object is expected', () => {
    expect(messagesOf(body, null)).toEqual([
      'must be a JSON object (a missing body arrives as null)',
    ]);
  });

  it('lists the allowed values when a field that takes one of them is missing', () => {
    const kind = z.strictObject({ kind: z.enum(['coder', 'tester']) });
    expect(fieldErrors(kind, {})).toEqual([
      { path: '/kind', message: 'Invalid option: expected one of "coder"|"tester"' },
    ]);
  });

  it("keeps zod's message for a null or a wrong type where an object is not expected", () => {
    const [nullName] = messagesOf(body, { name: null });
    expect(nullName).toMatch(/expected string, received null/);
    const [wrongType] = messagesOf(body, { name: 7 });
    expect(wrongType).toMatch(/expected string, received number/);
    const [notAnObject] = messagesOf(body, 'text');
    expect(notAnObject).toMatch(/expected object, received string/);
  });
});

describe('storable text', () => {
  it('accepts any well-formed text without NUL that does not start with U+FEFF', () => {
    const storable = fc
      .string({ unit: 'grapheme' })
      .filter((text) => !text.includes('\u0000') && !text.startsWith('\ufeff'));
    fc.assert(fc.property(storable, (text) => isStorableText(text)));
  });

  it('refuses a string with storableString, with the message a client sees', () => {
    const schema = storableString();
    expect(schema.parse('fine')).toBe('fine');
    for (const text of unstorable) {
      expect(messagesOf(schema, text)).toEqual([
        'must not contain NUL or unpaired surrogate characters, nor start with U+FEFF',
      ]);
    }
  });

  it('finds unstorable text anywhere in a JSON value, member names included', () => {
    expect(holdsStorableText({ list: [1, 'two', { three: [null, true] }], ok: 'yes' })).toBe(true);
    expect(holdsStorableText(null)).toBe(true);
    expect(holdsStorableText(42)).toBe(true);
    for (const text of unstorable) {
      expect(holdsStorableText(text), text).toBe(false);
      expect(holdsStorableText({ deep: [{ value: text }] }), text).toBe(false);
      expect(holdsStorableText({ deep: [{ [text]: 1 }] }), text).toBe(false);
      expect(holdsStorableText({ fine: 1, [text]: 2 }), text).toBe(false);
      expect(holdsStorableText([[1], [2, text]]), text).toBe(false);
    }
  });

  it('walks every member of a value: one bad string among many is found', () => {
    const values = fc.array(fc.jsonValue(), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(values, fc.nat(), fc.constantFrom(...unstorable), (items, at, bad) => {
        const storable = JSON.parse(JSON.stringify(items).replaceAll('\\u0000', '')) as unknown[];
        if (!holdsStorableText(storable)) return;
        const spoiled = storable.toSpliced(at % (storable.length + 1), 0, { bad });
        expect(holdsStorableText(spoiled)).toBe(false);
      }),
    );
  });
});

describe('nameSchema', () => {
  it('trims white space, U+FEFF included, and keeps the rest as sent', () => {
    expect(nameSchema.parse('\ufeff\t name \n')).toBe('name');
    expect(nameSchema.parse('a\ufeffb')).toBe('a\ufeffb');
  });

  it('accepts 255 characters and refuses 256', () => {
    expect(nameSchema.parse('n'.repeat(255))).toHaveLength(255);
    expect(messagesOf(nameSchema, 'n'.repeat(256))).toEqual(['must be at most 255 characters']);
    expect(nameSchema.parse(` ${'n'.repeat(255)} `)).toHaveLength(255);
  });

  it('calls an empty or blank name blank, and unstorable text unstorable', () => {
    expect(messagesOf(nameSchema, '')).toEqual(['must not be blank']);
    expect(messagesOf(nameSchema, ' \t ')).toEqual(['must not be blank']);
    expect(messagesOf(nameSchema, 'a\u0000')[0]).toMatch(/^must not contain NUL/);
  });
});

describe('metadataProblem', () => {
  /** Metadata whose JSON is exactly `bytes` bytes long. */
  const ofBytes = (bytes: number) => ({ text: 'x'.repeat(bytes - '{"text":""}'.length) });

  it('accepts metadata up to the byte limit and names the limit beyond it', () => {
    expect(Buffer.byteLength(JSON.stringify(ofBytes(METADATA_MAX_BYTES)))).toBe(METADATA_MAX_BYTES);
    expect(metadataProblem(ofBytes(METADATA_MAX_BYTES))).toBeUndefined();
    expect(metadataProblem(ofBytes(METADATA_MAX_BYTES + 1))).toBe(
      'must serialize to at most 16384 bytes',
    );
  });

  it('counts bytes of UTF-8, not characters', () => {
    const euros = Math.ceil(METADATA_MAX_BYTES / 3);
    expect(metadataProblem({ text: '€'.repeat(euros) })).toBe(
      'must serialize to at most 16384 bytes',
    );
  });

  it('counts members at every level, arrays and objects alike', () => {
    const half = METADATA_MAX_MEMBERS / 2;
    const spread = (extra: number) => ({
      a: Object.fromEntries(Array.from({ length: half - 2 }, (_, i) => [`k${i}`, i])),
      b: Array(half - 1 + extra).fill(0),
    });
    // 2 top-level members, 498 in `a`, 499 + extra in `b`.
    expect(metadataProblem(spread(1))).toBeUndefined();
    expect(metadataProblem(spread(2))).toBe(
      'must hold at most 1000 members (object members and array items)',
    );
  });

  it('allows 32 levels of arrays and objects, the metadata itself being the first', () => {
    const nested = (levels: number) => {
      let value: unknown = 'leaf';
      for (let level = 1; level < levels; level += 1) value = level % 2 ? [value] : { v: value };
      return { v: value };
    };
    expect(metadataProblem(nested(METADATA_MAX_DEPTH))).toBeUndefined();
    expect(metadataProblem(nested(METADATA_MAX_DEPTH + 1))).toBe(
      'must nest at most 32 levels of arrays and objects',
    );
  });

  it('names unstorable text in member names and values, at any depth', () => {
    const message = `${'must not contain NUL or unpaired surrogate characters, nor start with U+FEFF'}, in names or values`;
    for (const text of unstorable) {
      expect(metadataProblem({ [text]: 1 })).toBe(message);
      expect(metadataProblem({ a: { b: [text] } })).toBe(message);
      expect(metadataProblem({ a: [{ [text]: true }] })).toBe(message);
    }
  });

  it('accepts any small JSON object of storable text', () => {
    const small = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });
    fc.assert(
      fc.property(small, (metadata) => {
        fc.pre(holdsStorableText(metadata));
        expect(metadataProblem(metadata)).toBeUndefined();
      }),
    );
  });
});

describe('repeatable', () => {
  const status = repeatable(z.enum(['a', 'b']));

  it('reads one query value and repeated ones alike as a list', () => {
    expect(status.parse('a')).toEqual(['a']);
    expect(status.parse(['a', 'b'])).toEqual(['a', 'b']);
    expect(status.parse(undefined)).toBeUndefined();
  });

  it('refuses a value outside the list, and more than 64 repetitions', () => {
    expect(fieldErrors(status, 'c')[0]?.path).toBe('/0');
    expect(status.safeParse(Array(64).fill('a')).success).toBe(true);
    expect(status.safeParse(Array(65).fill('a')).success).toBe(false);
  });
});

describe('queryInteger', () => {
  it('tells a client to write the number in plain decimal digits', () => {
    const offset = queryInteger(0, 1_000);
    expect(fieldErrors(z.object({ offset }), { offset: '0x10' })).toEqual([
      { path: '/offset', message: 'must be an integer in plain decimal digits, such as 20' },
    ]);
    expect(offset.parse('1000')).toBe(1_000);
    expect(offset.safeParse('1001').success).toBe(false);
    expect(offset.parse('0')).toBe(0);
  });
});
