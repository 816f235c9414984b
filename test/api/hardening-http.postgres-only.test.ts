import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { rawExchange, splitResponse } from '../support/raw-http.js';

/**
 * What a hostile client can do to the HTTP layer itself, over real sockets: stall (408 within
 * REQUEST_TIMEOUT_MS), send too many headers or none (431, 400), send too much (413, read to
 * the end so the client sees it), or name a host the service is not (421). Every answer is a
 * problem document. PostgreSQL only: no database engine is involved.
 */
const TIMEOUT_MS = 1_000;
const run = promisify(execFile);
let t: TestApp;
let port: number;

beforeAll(async () => {
  t = await createTestApp({ REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) });
  port = Number(new URL(await t.listen()).port);
});
afterAll(() => t.close());

/** Asserts a raw response is a problem document with this status; returns its headers and body. */
function expectRawProblem(text: string, status: number) {
  expect(text, text.slice(0, 300)).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  const { headers, body } = splitResponse(text);
  expect(headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(body) as { status: number; detail: string };
  expect(problem).toMatchObject({ type: expect.any(String), title: expect.any(String), status });
  expect(problem.detail).toEqual(expect.any(String));
  return { headers, problem };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface Sent {
  method?: string;
  path: string;
  host: string;
  body?: object;
}

/** A request through node:http, which, unlike fetch, lets a test set the Host header. */
function send(to: number, sent: Sent): Promise<Answer> {
  const payload = sent.body === undefined ? undefined : JSON.stringify(sent.body);
  const type = payload === undefined ? {} : { 'content-type': 'application/json' };
  return new Promise((resolve, reject) => {
    const options = {
      host: '127.0.0.1',
      port: to,
      agent: false,
      method: sent.method ?? 'GET',
      path: sent.path,
      headers: { host: sent.host, ...type },
    };
    const request = httpRequest(options, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
      });
    });
    request.on('error', reject).end(payload);
  });
}

const LIST = 'GET /api/v1/projects HTTP/1.1\r\n';

describe(`request timeouts (REQUEST_TIMEOUT_MS=${TIMEOUT_MS})`, () => {
  it('answers headers that never end with a 408 problem, in time', async () => {
    const unfinished = `${LIST}Host: localhost\r\nX-Slow: 1\r\n`;
    const exchange = await rawExchange(port, unfinished, 10 * TIMEOUT_MS);
    expect(expectRawProblem(exchange.text, 408).headers.connection).toBe('close');
    expect(exchange.elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS * 0.9);
    expect(exchange.elapsedMs).toBeLessThan(TIMEOUT_MS * 4);
  });

  it('answers a body short of its Content-Length with a 408 problem, in time', async () => {
    const head =
      'POST /api/v1/projects HTTP/1.1\r\nHost: localhost\r\n' +
      'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n';
    const exchange = await rawExchange(port, `${head}{"name":`, 10 * TIMEOUT_MS);
    expectRawProblem(exchange.text, 408);
    expect(exchange.elapsedMs).toBeLessThan(TIMEOUT_MS * 4);
    expect((await t.request({ url: '/api/v1/projects' })).json().total).toBe(0);
  });
});

describe('protocol edges', () => {
  const fields = (count: number) =>
    Array.from({ length: count }, (_, index) => `a${index}: v\r\n`).join('');

  it('answers 2 000 header fields, or 101, with a 431 problem, not a bare 400', async () => {
    const hostLast = await rawExchange(port, `${LIST}${fields(2_000)}Host: localhost\r\n\r\n`);
    expectRawProblem(hostLast.text, 431);
    const hostFirst = await rawExchange(port, `${LIST}Host: localhost\r\n${fields(100)}\r\n`);
    expectRawProblem(hostFirst.text, 431);
    const allowed = await rawExchange(port, `${LIST}Host: localhost\r\n${fields(90)}\r\n`);
    expect(allowed.status).toBe(200);
  });

  it('answers HTTP/1.1 without Host with a 400 problem; serves HTTP/1.0 without one', async () => {
    const missing = await rawExchange(port, `${LIST}\r\n`);
    expect(expectRawProblem(missing.text, 400).problem.detail).toMatch(/Host/);
    expect((await rawExchange(port, 'GET /api/v1/projects HTTP/1.0\r\n\r\n')).status).toBe(200);
  });

  it('refuses a body it will not read at once, without waiting for the body to arrive', async () => {
    const head =
      'POST /api/v1/projects HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n' +
      'Content-Length: 100000\r\n\r\n';
    const answer = await rawExchange(port, head, 3 * TIMEOUT_MS);
    expect(expectRawProblem(answer.text, 415).problem.detail).toBe(
      'Send JSON with Content-Type: application/json',
    );
  });

  // Node's fetch in another process: a client in the server's own event loop never saw the resets.
  it('gives fetch a 413 problem for each of 40 bodies of 2–8 MiB, never a reset', async () => {
    const script = fileURLToPath(new URL('../support/oversized-posts.mjs', import.meta.url));
    const args = [script, String(port), '/api/v1/projects', '40'];
    const { stdout } = await run(process.execPath, args, { env: { PATH: process.env.PATH } });
    expect(stdout.trim().split('\n')).toEqual(Array(40).fill('413 application/problem+json 413'));
  });
});

describe('Host header (DNS rebinding)', () => {
  it('refuses a foreign Host with a 421 problem when AUTH=off, and changes nothing', async () => {
    const host = `rebound.example:${port}`;
    const create = { method: 'POST', path: '/api/v1/projects', host, body: { name: 'x' } };
    const foreign = await send(port, create);
    expect(foreign.status).toBe(421);
    expect(foreign.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(foreign.body)).toMatchObject({ status: 421, title: 'Misdirected Request' });
    expect((await t.request({ url: '/api/v1/projects' })).json().total).toBe(0);
    const loopback = [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      'LOCALHOST',
      'localhost:1',
    ];
    for (const name of loopback) {
      expect((await send(port, { path: '/api/v1/projects', host: name })).status, name).toBe(200);
    }
  });

  it('answers the names in ALLOWED_HOSTS (a name alone: any port) and refuses others', async () => {
    const allowed = await createTestApp({ ALLOWED_HOSTS: 'swarm.internal, api.example:8443' });
    try {
      const to = Number(new URL(await allowed.listen()).port);
      const statusFor = async (host: string) =>
        (await send(to, { path: '/api/v1/projects', host })).status;
      expect(await statusFor('swarm.internal:1234')).toBe(200);
      expect(await statusFor('api.example:8443')).toBe(200);
      expect(await statusFor('api.example:80')).toBe(421);
      expect(await statusFor('evil.example')).toBe(421);
    } finally {
      await allowed.close();
    }
  });

  it('leaves Host alone with AUTH=on and no ALLOWED_HOSTS (a proxy may use any name)', async () => {
    const keyed = await createTestApp({ AUTH: 'on' });
    try {
      const to = Number(new URL(await keyed.listen()).port);
      const answer = await send(to, { path: '/api/v1/projects', host: 'swarm.example.com' });
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBeDefined();
    } finally {
      await keyed.close();
    }
  });
});
