import { describe, expect, it } from 'vitest';
import {
  JSON_MAX_DEPTH,
  JSON_MAX_VALUES,
  jsonTextProblem,
  numberProblem,
} from '../../../src/http/json-text.js';

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const says = (text: string) => expect.stringContaining(text);

describe('jsonTextProblem', () => {
  it('passes ordinary JSON, with brackets, quotes and colons inside strings', () => {
    const ordinary = '{"a":[1,-2.5e3,true,false,null,"x"],"b":{"c":"[{\\"}:,"}}';
    expect(jsonTextProblem(ordinary)).toBeUndefined();
    expect(jsonTextProblem('\ufeff "text" ')).toBeUndefined();
    expect(jsonTextProblem(`{"x":${nested(JSON_MAX_DEPTH - 1)}}`)).toBeUndefined();
  });

  it('names the value nested one level too deep by its JSON pointer', () => {
    const path = `/${Array(JSON_MAX_DEPTH).fill('0').join('/')}`;
    const tooDeep = jsonTextProblem(nested(JSON_MAX_DEPTH + 1));
    expect(tooDeep).toEqual({ path, message: says('64 levels') });
    const escaped = jsonTextProblem(`{"a/b~c" : ${nested(JSON_MAX_DEPTH)}}`);
    expect(escaped?.path).toMatch(/^\/a~1b~0c(\/0)+$/);
  });

  it('counts every value, containers included', () => {
    const values = (count: number) =>
      `[${Array(count - 1)
        .fill('0')
        .join(',')}]`;
    expect(jsonTextProblem(values(JSON_MAX_VALUES))).toBeUndefined();
    const tooMany = jsonTextProblem(values(JSON_MAX_VALUES + 1));
    expect(tooMany).toEqual({ path: '/', message: says('10000 values') });
    expect(jsonTextProblem(`[${Array(JSON_MAX_VALUES).fill('"s"').join(',')}]`)).toBeDefined();
  });

  it('refuses a member name given twice in one object, however it is escaped', () => {
    const twice = jsonTextProblem('{"a":1,"b":[{"k":1},{"k":2,"\\u006b" :3}]}');
    expect(twice).toEqual({ path: '/b/1/k', message: says('more than once') });
    expect(jsonTextProblem('[{"k":1},{"k":2}]')).toBeUndefined();
    expect(jsonTextProblem('{"k":{"k":{"k":1}}}')).toBeUndefined();
  });

  it('names a number a double cannot hold by its index', () => {
    const tooLarge = jsonTextProblem('[[1,2],[3, 1e400]]');
    expect(tooLarge).toEqual({ path: '/1/1', message: says('too large') });
    expect(jsonTextProblem('-1e400')).toEqual({ path: '/', message: says('too large') });
  });
});

describe('numberProblem', () => {
  it.each([
    '0',
    '-0',
    '0.0',
    '0e400',
    '-0.000e-999',
    '1.5',
    '1E+2',
    '-1e-300',
    '1e300',
    '0.1',
    '1e21',
    '9007199254740991',
    '-9007199254740991',
  ])('lets %s through', (literal) => expect(numberProblem(literal)).toBeUndefined());

  it.each([
    ['1e400', 'too large'],
    ['-2e308', 'too large'],
    ['1e-400', 'too small'],
    ['9007199254740992', 'safe integer'],
    ['-12345678901234567890', 'safe integer'],
  ])('says what is wrong with %s', (literal, message) => {
    expect(numberProblem(literal)).toContain(message);
  });
});
