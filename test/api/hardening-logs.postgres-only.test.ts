import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CLIENT_ERROR_LINES_PER_WINDOW } from '../../src/http/client-errors.js';
import { createTestApp } from '../support/app.js';
import { ERROR_LEVEL, WARN_LEVEL, captureLog } from '../support/captured-log.js';
import { keyHeader } from '../support/keys.js';
import { rawExchange } from '../support/raw-http.js';
import { upgradeStatus } from '../support/ws-client.js';

/**
 * What a hostile client can make the service write to its log, read from the pino output of a
 * real app: no line may ever hold an API key, and client-caused errors are `info` lines, a few
 * a minute, never `error`. PostgreSQL only: no database engine is involved.
 */

describe('secrets in the log', () => {
  it('never logs an API key: as a header, as ?token= on any route, in bad requests', async () => {
    const log = captureLog();
    const t = await createTestApp({ AUTH: 'on', LOG_LEVEL: 'trace' }, { logStream: log.stream });
    const authorization = (await keyHeader(t.app, { role: 'admin' })).authorization!;
    const key = authorization.slice('Bearer '.length);
    try {
      const base = await t.listen();
      const port = Number(new URL(base).port);
      const ws = base.replace('http', 'ws');
      const list = `${base}/api/v1/projects`;
      expect((await fetch(list, { headers: { authorization } })).status).toBe(200);
      const wrongHeader = { authorization: 'Bearer x' };
      expect((await fetch(`${list}?token=${key}`, { headers: wrongHeader })).status).toBe(401);
      for (const path of ['/health/ready', '/metrics', '/api/v1/keys', '/docs/', '/nothing']) {
        expect([400, 404], path).toContain(await upgradeStatus(`${ws}${path}?token=${key}`));
      }
      expect(await upgradeStatus(`${ws}/ws?token=${key}`)).toBe(101);
      expect(await upgradeStatus(`${ws}/ws?tok%65n=${key}&topics=projects`)).toBe(101);
      expect(await upgradeStatus(`${ws}/metrics?x=1&TOKEN=${key}`)).toBe(400);
      const bearer = `Host: localhost\r\nAuthorization: Bearer ${key}\r\n\r\n`;
      await rawExchange(port, `GET /api/v1/projects/%zz?token=${key} HTTP/1.1\r\n${bearer}`);
      await rawExchange(port, `GET /a b?token=${key} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    } finally {
      await t.close();
    }
    expect(log.text()).toContain('token=[redacted]');
    expect(log.text()).not.toContain(key.slice(-43));
  });
});

/** Opens a request with a body it never finishes, then resets the connection. */
function abortedPost(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        'POST /api/v1/projects HTTP/1.1\r\nHost: localhost\r\n' +
          'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"na',
      );
      setTimeout(() => socket.resetAndDestroy(), 20);
    });
    socket.on('error', () => undefined).on('close', () => resolve());
  });
}

describe('client errors in the log', () => {
  it('logs aborted requests as client errors at info, a few a minute, then a summary', async () => {
    const log = captureLog();
    const t = await createTestApp({ LOG_LEVEL: 'info' }, { logStream: log.stream });
    try {
      const port = Number(new URL(await t.listen()).port);
      for (let round = 0; round < 30; round += 1) await abortedPost(port);
    } finally {
      await t.close();
    }
    const lines = log.lines();
    expect(lines.filter((line) => line.level >= ERROR_LEVEL).map((line) => line.msg)).toEqual([]);
    const clientErrors = lines.filter((line) => line.clientError === true);
    const oneByOne = clientErrors.filter((line) => line.level < WARN_LEVEL);
    expect(oneByOne).toHaveLength(CLIENT_ERROR_LINES_PER_WINDOW);
    const aborted = oneByOne.find((line) => line.msg === 'client aborted the request');
    // Which request it was, and how the connection ended, for an operator to follow up.
    expect(aborted).toMatchObject({ reqId: expect.any(String), code: expect.any(String) });
    const summaries = clientErrors.filter((line) => line.level === WARN_LEVEL);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.suppressed).toBeGreaterThanOrEqual(30 - CLIENT_ERROR_LINES_PER_WINDOW);
  });
});
