import { connect } from 'node:net';

/** What came back on a raw connection. */
export interface RawExchange {
  /** Everything the server sent. */
  text: string;
  /** The status of the first response line, or 0 without one. */
  status: number;
  /** Milliseconds from the end of sending to a whole response, the server's close or the end. */
  elapsedMs: number;
}

/** True once `text` holds a whole response with a Content-Length. */
function isComplete(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1];
  if (end === -1 || length === undefined) return false;
  return Buffer.byteLength(text.slice(end + 4)) >= Number(length);
}

/** The header block and body of a raw response. */
export function splitResponse(text: string): { headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, end).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body: text.slice(end + 4) };
}

/**
 * Writes `request` byte for byte on a new TCP connection (so it can be incomplete, or break
 * HTTP in ways no client library allows), then reads until a whole response has arrived, the
 * server closes the connection or `deadlineMs` passes. The socket is destroyed before it resolves.
 */
export function rawExchange(
  port: number,
  request: string | Buffer,
  deadlineMs = 10_000,
): Promise<RawExchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let sentAt = Date.now();
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(request, () => (sentAt = Date.now()));
    });
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ text, status, elapsedMs: Date.now() - sentAt });
    };
    const deadline = setTimeout(finish, deadlineMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (isComplete(Buffer.concat(chunks).toString('utf8'))) finish();
    });
    socket.on('error', () => undefined);
    socket.on('close', finish);
  });
}
