import type { FastifyReply, FastifyRequest } from 'fastify';
import { loggableUrl, problem, sendProblem } from './problem.js';

/** Not echoed: the malformed text may be a `?token=` a client mistyped. */
const detail =
  'The query string holds a malformed percent-escape (% and two hex digits, encoding UTF-8)';

/** The first name or value of a query string that does not percent-decode, if any. */
export function malformedQueryPart(url: string): string | undefined {
  const start = url.indexOf('?');
  if (start === -1 || !url.includes('%', start)) return undefined;
  return url
    .slice(start + 1)
    .split(/[&=]/)
    .find((part) => {
      try {
        decodeURIComponent(part);
        return false;
      } catch {
        return true;
      }
    });
}

/**
 * `onRequest` hook: a query string with a malformed percent-escape (`%ZZ`, or bytes that are not
 * UTF-8 such as `%FF`) is a 400 problem, as a malformed path is. Fastify's query parser keeps
 * such text as it is, so `?q=%ZZ` searched for the literal `%ZZ` while docs/api.md said 400.
 */
export function refuseMalformedQuery(
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
): void {
  if (malformedQueryPart(request.url) === undefined) return done();
  void sendProblem(reply, { ...problem(400, detail), instance: loggableUrl(request.url) });
}
