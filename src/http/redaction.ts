import type { DestinationStream } from 'pino';

/** What a secret is replaced with in logs and problem documents. */
export const REDACTED = '[redacted]';

/**
 * `token` as a query parameter name, each letter also percent-encoded (the query parser decodes
 * names, so `?tok%65n=` is read as `token` and must be masked as well), and its value up to the
 * next parameter, fragment, space or the end of a JSON string (escaped characters included).
 */
const TOKEN_PARAMETER = /([?&](?:t|%74)(?:o|%6f)(?:k|%6b)(?:e|%65)(?:n|%6e)=)(?:[^&#\s"\\]|\\.)*/gi;
/** `Bearer <credential>` anywhere in a text. */
const BEARER_CREDENTIAL = /(\bbearer\s+)(?:[^\s"\\,;]|\\.)+/gi;
/** A JSON field that holds a credential, e.g. a logged `headers.authorization` or `query.token`. */
const CREDENTIAL_FIELD =
  /("(?:authorization|proxy-authorization|cookie|token)"\s*:\s*")(?:[^"\\]|\\.)*/gi;
/** Cheap test for whether a text can hold one of the above at all. */
const MAY_HOLD_SECRET = /token|bearer|authorization|cookie/i;

/**
 * A URL as it may appear in logs and problem documents: an API key passed as `?token=`
 * (WebSocket clients that cannot set headers do that) is masked.
 */
export function loggableUrl(url: string): string {
  return url.includes('?') ? url.replace(TOKEN_PARAMETER, `$1${REDACTED}`) : url;
}

/**
 * Masks every credential in a text: `token` query parameters, `Bearer` credentials and JSON
 * fields named like credentials. Applied to every log line as it is written, so that a secret
 * never reaches the log, whichever code (ours, Fastify's, a plugin's) wrote the line.
 */
export function redactSecrets(text: string): string {
  if (!MAY_HOLD_SECRET.test(text)) return text;
  return text
    .replace(TOKEN_PARAMETER, `$1${REDACTED}`)
    .replace(BEARER_CREDENTIAL, `$1${REDACTED}`)
    .replace(CREDENTIAL_FIELD, `$1${REDACTED}`);
}

/**
 * Wraps a pino destination so that every line passes through {@link redactSecrets} before it is
 * written. Serializers only see the fields they are named for; this sees whole lines.
 */
export function redactingDestination(destination: DestinationStream): DestinationStream {
  return {
    write: (line: string) => destination.write(redactSecrets(line)),
  };
}
