#!/usr/bin/env node
/**
 * Sends `count` JSON POSTs of 2 to 8 MiB with Node's fetch to http://127.0.0.1:<port><path>, one
 * after another, and prints one outcome per line: `<status> <media type> <problem status>`, or
 * the error code when the request failed (EPIPE, ECONNRESET). A process of its own, because a
 * client in the server's own process takes turns with it on one event loop and does not see the
 * resets a separate client sees.
 *
 * Usage: node oversized-posts.mjs <port> <path> <count>
 */
const [port, path, count] = process.argv.slice(2);
const total = Number(count);
for (let attempt = 0; attempt < total; attempt += 1) {
  const size = (2 + Math.floor((attempt * 6) / Math.max(1, total - 1))) * 1024 * 1024 + attempt;
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(size, 0x20),
    });
    const text = await response.text();
    const mediaType = response.headers.get('content-type')?.split(';')[0];
    let problemStatus = 'none';
    try {
      problemStatus = String(JSON.parse(text).status);
    } catch {
      problemStatus = 'not-json';
    }
    process.stdout.write(`${response.status} ${mediaType} ${problemStatus}\n`);
  } catch (error) {
    process.stdout.write(`${error.cause?.code ?? error.message}\n`);
  }
}
