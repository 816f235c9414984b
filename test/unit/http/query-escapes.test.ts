import { describe, expect, it } from 'vitest';
import { malformedQueryPart } from '../../../src/http/query-escapes.js';

describe('malformed percent-escapes in a query string', () => {
  it('finds the first name or value that does not decode', () => {
    expect(malformedQueryPart('/p?q=%ZZ')).toBe('%ZZ');
    expect(malformedQueryPart('/p?a=1&b%G1=2')).toBe('b%G1');
    expect(malformedQueryPart('/p?q=%C3')).toBe('%C3');
    expect(malformedQueryPart('/p?q=%')).toBe('%');
  });

  it('passes a path escape, a query without %, and well-formed escapes', () => {
    expect(malformedQueryPart('/p%ZZ')).toBeUndefined();
    expect(malformedQueryPart('/p%ZZ?q=a')).toBeUndefined();
    expect(malformedQueryPart('/p?q=%C3%A9&r=%25+x')).toBeUndefined();
    expect(malformedQueryPart('/p?')).toBeUndefined();
  });
});
