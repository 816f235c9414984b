/**
 * Health baseline: a raw `node:http` server answering `GET /health/live` with the same JSON body
 * and content type as the service (`{"status":"ok"}`, application/json; charset=utf-8), and
 * nothing else: no framework, no request id, no logger, no schema. Prints `READY {"port":N}`.
 */
import { createServer } from 'node:http';
import { announceReady } from './lib/ready.js';

const BODY = JSON.stringify({ status: 'ok' });
const LENGTH = String(Buffer.byteLength(BODY));

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/health/live') {
    response.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': LENGTH,
    });
    response.end(BODY);
    return;
  }
  response.writeHead(404).end();
});

process.on('SIGTERM', () => {
  setTimeout(() => process.exit(0), 2_000).unref();
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  announceReady({
    port: typeof address === 'object' && address !== null ? address.port : 0,
    pid: process.pid,
  });
});
