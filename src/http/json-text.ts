import type { FieldError } from '../domain/errors.js';

/** Deepest nesting of arrays and objects accepted anywhere in a JSON body. */
export const JSON_MAX_DEPTH = 64;
/** Most values (scalars, arrays and objects, at every level) accepted in one JSON body. */
export const JSON_MAX_VALUES = 10_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MINUS = 0x2d;
const NUMBER_LITERAL = /[-+.0-9eE]+/y;
const WHITESPACE = /[ \t\n\r]*/y;

const TOO_DEEP = `must nest at most ${JSON_MAX_DEPTH} levels of arrays and objects`;

const isNumberStart = (code: number) => code === MINUS || (code >= 0x30 && code <= 0x39);
const isLowerCaseLetter = (code: number) => code >= 0x61 && code <= 0x7a;

/** An open array or object: the index or name of the member being read, and the names seen. */
interface Frame {
  array: boolean;
  index: number;
  name: string;
  names: Set<string>;
}

/** Escapes one reference token of a JSON pointer (RFC 6901). */
function pointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * Why a JSON number literal would not come back as sent once parsed into a double, or undefined
 * when it would: it overflows to ±Infinity (serialized as `null`), it underflows to 0, or it is
 * an integer beyond ±(2^53 − 1), whose last digits a double cannot hold (RFC 7493, §2.2).
 * Decimal fractions are rounded to the nearest double, as by every JSON parser.
 */
export function numberProblem(literal: string): string | undefined {
  const value = Number(literal);
  if (!Number.isFinite(value)) return `is too large: a number must be within ±${Number.MAX_VALUE}`;
  const mantissa = literal.split(/[eE]/)[0]!;
  if (value === 0 && /[1-9]/.test(mantissa)) return 'is too small: it would be stored as 0';
  if (/^-?\d+$/.test(literal) && !Number.isSafeInteger(value)) {
    return `is not a safe integer: beyond ±${Number.MAX_SAFE_INTEGER} an integer loses digits`;
  }
  return undefined;
}

/**
 * Reads well-formed JSON text once, without recursion, and reports the first thing that parsing
 * would hide or that would cost without bound further on: nesting deeper than
 * {@link JSON_MAX_DEPTH}, more than {@link JSON_MAX_VALUES} values, a member name given twice
 * (JSON.parse keeps the last silently) and a number a double cannot hold ({@link numberProblem}).
 */
class JsonTextScanner {
  private readonly frames: Frame[] = [];
  private position = 0;
  private values = 0;

  constructor(private readonly text: string) {}

  scan(): FieldError | undefined {
    let problem: FieldError | undefined;
    while (problem === undefined && this.position < this.text.length) problem = this.step();
    return problem;
  }

  private step(): FieldError | undefined {
    const code = this.text.charCodeAt(this.position);
    if (code === QUOTE) return this.string();
    if (code === OPEN_OBJECT || code === OPEN_ARRAY) return this.open(code === OPEN_ARRAY);
    if (isNumberStart(code)) return this.number();
    if (isLowerCaseLetter(code)) return this.literal();
    if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) this.frames.pop();
    else if (code === COMMA) this.nextItem();
    this.position += 1;
    return undefined;
  }

  /** `true`, `false` or `null`. */
  private literal(): FieldError | undefined {
    while (isLowerCaseLetter(this.text.charCodeAt(this.position))) this.position += 1;
    return this.countValue();
  }

  private open(array: boolean): FieldError | undefined {
    const problem = this.countValue();
    if (problem !== undefined) return problem;
    if (this.frames.length === JSON_MAX_DEPTH) return this.problem(TOO_DEEP);
    this.frames.push({ array, index: 0, name: '', names: new Set() });
    this.position += 1;
    return undefined;
  }

  private nextItem(): void {
    const frame = this.frames.at(-1);
    if (frame?.array === true) frame.index += 1;
  }

  private string(): FieldError | undefined {
    const start = this.position;
    this.position = this.stringEnd(start);
    if (!this.followedByColon()) return this.countValue();
    const frame = this.frames.at(-1)!;
    frame.name = JSON.parse(this.text.slice(start, this.position)) as string;
    if (frame.names.has(frame.name)) return this.problem('is given more than once in its object');
    frame.names.add(frame.name);
    return undefined;
  }

  /** The index just past the closing quote of the string that opens at `start`. */
  private stringEnd(start: number): number {
    let index = start + 1;
    while (index < this.text.length && this.text.charCodeAt(index) !== QUOTE) {
      index += this.text.charCodeAt(index) === BACKSLASH ? 2 : 1;
    }
    return index + 1;
  }

  private followedByColon(): boolean {
    WHITESPACE.lastIndex = this.position;
    WHITESPACE.test(this.text);
    return this.text.charCodeAt(WHITESPACE.lastIndex) === COLON;
  }

  private number(): FieldError | undefined {
    NUMBER_LITERAL.lastIndex = this.position;
    NUMBER_LITERAL.test(this.text);
    const literal = this.text.slice(this.position, NUMBER_LITERAL.lastIndex);
    this.position = NUMBER_LITERAL.lastIndex;
    const message = numberProblem(literal);
    return message === undefined ? this.countValue() : this.problem(message);
  }

  private countValue(): FieldError | undefined {
    this.values += 1;
    if (this.values <= JSON_MAX_VALUES) return undefined;
    return { path: '/', message: `must hold at most ${JSON_MAX_VALUES} values in all` };
  }

  /** A problem at the value being read, named by its JSON pointer. */
  private problem(message: string): FieldError {
    const tokens = this.frames.map((frame) => (frame.array ? String(frame.index) : frame.name));
    const path = tokens.map((token) => `/${pointerToken(token)}`).join('');
    return { path: path === '' ? '/' : path, message };
  }
}

/**
 * Checks JSON text that JSON.parse accepted (see {@link JsonTextScanner}); undefined when it may
 * go on to validation. Linear in the length of the text, with no recursion.
 */
export function jsonTextProblem(text: string): FieldError | undefined {
  return new JsonTextScanner(text).scan();
}
