import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLIENT_ERROR_LINES_PER_WINDOW } from '../../src/http/client-errors.js';
import { type TestApp, type TestAppOptions, createTestApp } from '../support/app.js';
import { ERROR_LEVEL, WARN_LEVEL, captureLog } from '../support/captured-log.js';
import { rawExchange, splitResponse } from '../support/raw-http.js';

/**
 * The WebSocket upgrade as a hostile client or web page sees it: a socket from a foreign origin
 * is refused even with AUTH=off, an upgrade to a route that is not a WebSocket route is never
 * accepted, a plain GET of /ws is told to upgrade, and malformed frames are client errors in
 * the log, not a flood of `error` lines.
 */
const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function listening(overrides: Record<string, string> = {}, options: TestAppOptions = {}) {
  const t = await createTestApp(overrides, options);
  apps.push(t);
  const base = await t.listen();
  return { t, base, ws: `${base.replace('http', 'ws')}/ws`, port: Number(new URL(base).port) };
}

interface Handshake {
  status: number;
  contentType?: string;
  body: string;
  /** Messages the socket received before the test closed it (only when it opened). */
  messages: string[];
}

/** Tries a handshake; an opened socket is kept 200 ms to collect what the server sends. */
function handshake(url: string, options: WebSocket.ClientOptions = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, options);
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(String(data)));
    socket.once('open', () =>
      setTimeout(() => {
        socket.terminate();
        resolve({ status: 101, body: '', messages });
      }, 200),
    );
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        const contentType = response.headers['content-type'];
        resolve({ status: response.statusCode ?? 0, contentType, body, messages });
        socket.terminate();
      });
    });
    socket.once('error', () => undefined);
  });
}

function expectProblemHandshake(result: Handshake, status: number): void {
  expect(result.status).toBe(status);
  expect(result.contentType).toMatch(/^application\/problem\+json/);
  const problem = { status, title: expect.any(String), detail: expect.any(String) };
  expect(JSON.parse(result.body)).toMatchObject(problem);
  expect(result.messages).toEqual([]);
}

describe('origins (AUTH=off)', () => {
  it('refuses a socket from a foreign page with a 403 problem, before any replay', async () => {
    const { t, ws, base } = await listening();
    await t.request({ method: 'POST', url: '/api/v1/projects', payload: { name: 'secret plans' } });
    const foreign = await handshake(`${ws}?last_event_id=0`, { origin: 'https://evil.example' });
    expectProblemHandshake(foreign, 403);
    expectProblemHandshake(await handshake(ws, { origin: 'null' }), 403);
    expectProblemHandshake(await handshake(ws, { origin: 'http://localhost.evil.example' }), 403);
    const own = await handshake(`${ws}?last_event_id=0`, { origin: base });
    expect(own.status).toBe(101);
    expect(own.messages.some((message) => message.includes('secret plans'))).toBe(true);
    expect((await handshake(ws)).status).toBe(101);
  });

  it('accepts the origins listed in CORS_ORIGINS', async () => {
    const { ws } = await listening({ CORS_ORIGINS: 'https://dash.example' });
    expect((await handshake(ws, { origin: 'https://dash.example' })).status).toBe(101);
    expectProblemHandshake(await handshake(ws, { origin: 'https://other.example' }), 403);
  });
});

describe('upgrades and routes', () => {
  it('never accepts an upgrade to a route that is not a WebSocket route', async () => {
    const { ws } = await listening();
    const base = ws.slice(0, -'/ws'.length);
    const routes = ['/health/ready', '/metrics', '/api/v1/keys', '/api/v1/projects', '/docs/'];
    for (const path of routes) {
      expectProblemHandshake(await handshake(`${base}${path}?token=x`), 400);
    }
    expectProblemHandshake(await handshake(`${base}/nothing`), 404);
  });

  it('answers a plain GET /ws with 426 and Upgrade: websocket, as a problem', async () => {
    const { base } = await listening();
    const response = await fetch(`${base}/ws`);
    expect(response.status).toBe(426);
    expect(response.headers.get('upgrade')).toBe('websocket');
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({ status: 426, title: 'Upgrade Required' });
  });

  it('answers malformed handshakes with problems, not bare statuses', async () => {
    const { port } = await listening();
    const head = 'GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n';
    const upgrade = (headers: string) => rawExchange(port, `${head}${headers}\r\n`);
    const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    const cases: Array<[string, number]> = [
      ['Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n', 400],
      ['Upgrade: websocket\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n', 400],
      ['Upgrade: h2c\r\n', 400],
      [`Upgrade: websocket\r\n${key}Sec-WebSocket-Version: 7\r\n`, 426],
    ];
    for (const [headers, status] of cases) {
      const exchange = await upgrade(headers);
      expect(exchange.status, headers).toBe(status);
      const type = splitResponse(exchange.text).headers['content-type'];
      expect(type, headers).toMatch(/^application\/problem\+json/);
    }
  });

  it('answers a handshake by any method but GET with 405 and Allow: GET, as a problem', async () => {
    const { port, base } = await listening({ AUTH: 'on' });
    const handshakeHeaders =
      'Host: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Content-Length: 0\r\n\r\n';
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const exchange = await rawExchange(
        port,
        `${method} /ws?topics=projects HTTP/1.1\r\n${handshakeHeaders}`,
      );
      expect(exchange.status, method).toBe(405);
      const { headers, body } = splitResponse(exchange.text);
      expect(headers['content-type'], method).toMatch(/^application\/problem\+json/);
      expect(headers.allow, method).toBe('GET');
      expect(JSON.parse(body)).toMatchObject({ status: 405, title: 'Method Not Allowed' });
    }
    const plain = await fetch(`${base}/ws`, { method: 'POST' });
    expect(plain.status).toBe(405);
    expect(plain.headers.get('allow')).toBe('GET');
    expect((await fetch(`${base}/wsx`, { method: 'POST' })).status).toBe(404);
  });
});

/** Completes a handshake on a raw socket, sends one frame with a reserved opcode, and ends. */
function sendMalformedFrame(port: number): Promise<void> {
  return new Promise((resolve) => {
    let upgraded = false;
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        'GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      if (upgraded || !chunk.toString('latin1').startsWith('HTTP/1.1 101')) return;
      upgraded = true;
      socket.end(Buffer.from([0x8f, 0x80, 1, 2, 3, 4]));
    });
    socket.on('error', () => undefined).on('close', () => resolve());
  });
}

describe('malformed frames in the log', () => {
  it('logs them as client errors at info, a few a minute, then a summary', async () => {
    const log = captureLog();
    const { port, t } = await listening({ LOG_LEVEL: 'info' }, { logStream: log.stream });
    for (let round = 0; round < 30; round += 1) await sendMalformedFrame(port);
    apps.splice(apps.indexOf(t), 1);
    await t.close();
    const lines = log.lines();
    expect(lines.filter((line) => line.level >= ERROR_LEVEL).map((line) => line.msg)).toEqual([]);
    const warnings = lines.filter(
      (line) => line.level === WARN_LEVEL && !line.msg?.startsWith('AUTH=off'),
    );
    expect(warnings).toHaveLength(1);
    const suppressed = 30 - CLIENT_ERROR_LINES_PER_WINDOW;
    expect(warnings[0]).toMatchObject({ clientError: true, suppressed });
    const frameErrors = lines.filter(
      (line) => line.clientError === true && line.level < WARN_LEVEL,
    );
    expect(frameErrors).toHaveLength(CLIENT_ERROR_LINES_PER_WINDOW);
    const first = { code: 'WS_ERR_INVALID_OPCODE', msg: 'WebSocket client error' };
    expect(frameErrors[0]).toMatchObject(first);
  });
});
