import type { FastifyInstance } from 'fastify';
import { type FieldError, UnprocessableError } from '../domain/errors.js';
import { jsonTextProblem } from './json-text.js';

/** Fails on the first byte sequence that is not UTF-8, where a lenient decoder writes U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The body as text, or undefined when it is not UTF-8. */
function decodeBody(body: Buffer): string | undefined {
  try {
    return utf8.decode(body);
  } catch {
    return undefined;
  }
}

function refused(error: FieldError): UnprocessableError {
  const detail = `The request body is refused: ${error.path} ${error.message}`;
  return new UnprocessableError(detail, [{ ...error, in: 'body' }]);
}

/**
 * Accepts JSON only (anything else is 415), and an empty body as "no body" so that the route
 * schema, not the parser, decides whether one is required. Bodies that parsing would change or
 * that would cost without bound further on are 422 problems naming the field: bytes that are not
 * UTF-8, and text that fails {@link jsonTextProblem} (deep nesting, too many values, a member
 * name given twice, a number a double cannot hold).
 */
export function installJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const text = decodeBody(body as Buffer);
    if (text === undefined) return done(refused({ path: '/', message: 'must be valid UTF-8' }));
    if (text.trim() === '') return done(null, undefined);
    return parseJson(request, text, (error, value) => {
      const problem = error === null ? jsonTextProblem(text) : undefined;
      return problem === undefined ? done(error, value) : done(refused(problem), undefined);
    });
  });
}
