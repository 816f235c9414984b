/**
 * WebSocket fan-out baseline: a plain `ws` WebSocketServer on a `node:http` server, with none of
 * the service's machinery (no Fastify routing of the upgrade, no topics, no replay, no event log,
 * no database). On connect it sends a small WELCOME frame (the service sends one too, so clients
 * wait for it the same way); `POST /broadcast` sends the request body, as one text frame, to
 * every open client — the client harness makes that body the same size as the service's event
 * frame — and answers 200 once every send is queued, as the service answers its write after its
 * fan-out. Prints `READY {"port":N}`.
 */
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { announceReady, gcOnSignal } from './lib/ready.js';

const server = createServer((request, response) => {
  if (request.method !== 'POST' || request.url !== '/broadcast') {
    response.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const frame = Buffer.concat(chunks).toString('utf8');
    let sent = 0;
    for (const client of wss.clients) {
      if (client.readyState !== WebSocket.OPEN) continue;
      client.send(frame);
      sent += 1;
    }
    const body = JSON.stringify({ sent });
    response
      .writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      })
      .end(body);
  });
});

const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 64 * 1024 });
wss.on('connection', (socket) => {
  socket.on('error', () => undefined);
  socket.send(JSON.stringify({ type: 'WELCOME' }));
});

gcOnSignal();
process.on('SIGTERM', () => {
  setTimeout(() => process.exit(0), 3_000).unref();
  for (const client of wss.clients) client.terminate();
  wss.close();
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
