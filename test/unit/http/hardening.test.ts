import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseAllowedHosts } from '../../../src/config.js';
import { ClientErrorLog, isClientCausedError } from '../../../src/http/client-errors.js';
import { timeoutCheckInterval } from '../../../src/http/liveness.js';
import { drainBody } from '../../../src/http/problem.js';
import { loggableUrl, redactSecrets, redactingDestination } from '../../../src/http/redaction.js';
import { hostCheck, windowText } from '../../../src/plugins/hardening.js';

describe('redaction', () => {
  it('masks token query parameters however their name is spelled or encoded', () => {
    expect(loggableUrl('/ws?tok%65n=abc&topics=x')).toBe('/ws?tok%65n=[redacted]&topics=x');
    const encoded = '/ws?a=1&%74%6F%6B%65%6E=abc#f';
    expect(loggableUrl(encoded)).toBe('/ws?a=1&%74%6F%6B%65%6E=[redacted]#f');
    expect(loggableUrl('/ws?token=a&token=b')).toBe('/ws?token=[redacted]&token=[redacted]');
    expect(loggableUrl('/token=abc')).toBe('/token=abc');
    expect(loggableUrl('/ws?mytoken=abc')).toBe('/ws?mytoken=abc');
  });

  it('masks bearer credentials, credential fields and query tokens in whole log lines', () => {
    const line = JSON.stringify({
      msg: 'Route GET:/m?token=sc_1 not found',
      headers: { authorization: 'Bearer sc_2' },
      note: 'sent bearer sc_3, then',
      query: { token: 'sc_4' },
    });
    const redacted = redactSecrets(line);
    for (const secret of ['sc_1', 'sc_2', 'sc_3', 'sc_4']) expect(redacted).not.toContain(secret);
    expect(JSON.parse(redacted)).toMatchObject({
      headers: { authorization: '[redacted]' },
      note: 'sent bearer [redacted], then',
    });
    expect(redactSecrets('{"msg":"plain"}')).toBe('{"msg":"plain"}');
  });

  it('redacts on the way to the destination', () => {
    const written: string[] = [];
    const destination = redactingDestination({ write: (line: string) => void written.push(line) });
    destination.write('{"url":"/ws?token=secret"}\n');
    expect(written).toEqual(['{"url":"/ws?token=[redacted]"}\n']);
  });
});

describe('client-error log', () => {
  function recorder() {
    const lines: Array<{ level: string; object: object; message: string }> = [];
    const at = (level: string) => (object: object, message: string) =>
      void lines.push({ level, object, message });
    const logger = { info: at('info'), warn: at('warn') };
    return { lines, logger };
  }

  it('writes a few lines a window, one summary at the end of the window, then starts over', () => {
    let now = 1_000;
    const { lines, logger } = recorder();
    const log = new ClientErrorLog(logger, { maxLines: 2, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 5; i += 1) log.note({ i }, 'client error');
    expect(lines.map((line) => line.level)).toEqual(['info', 'info']);
    now += 60_000;
    log.note({ i: 5 }, 'client error');
    expect(lines.map((line) => line.level)).toEqual(['info', 'info', 'warn', 'info']);
    expect(lines[2]!.object).toMatchObject({ clientError: true, suppressed: 3 });
    log.flush();
    expect(lines).toHaveLength(4);
  });

  it('writes the summary on its own when the window ends', async () => {
    const { lines, logger } = recorder();
    const log = new ClientErrorLog(logger, { maxLines: 1, windowMs: 50 });
    log.note({}, 'a');
    log.note({}, 'b');
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(lines.map((line) => line.level)).toEqual(['info', 'warn']);
  });

  it('knows which errors a client causes', () => {
    const coded = (code: string) => Object.assign(new Error(code), { code });
    expect(isClientCausedError(coded('WS_ERR_INVALID_OPCODE'))).toBe(true);
    expect(isClientCausedError(coded('ECONNRESET'))).toBe(true);
    expect(isClientCausedError(coded('57P01'))).toBe(false);
    expect(isClientCausedError(new Error('x'))).toBe(false);
    expect(isClientCausedError(null)).toBe(false);
  });
});

describe('settings', () => {
  it('parses ALLOWED_HOSTS and refuses what is not a host', () => {
    expect(parseAllowedHosts(' Swarm.example, api.example:8443 ,[::1]:3000,')).toEqual([
      'swarm.example',
      'api.example:8443',
      '[::1]:3000',
    ]);
    expect(parseAllowedHosts('http://x')).toBeNull();
    expect(loadConfig({ ALLOWED_HOSTS: 'a.example' }).ALLOWED_HOSTS).toEqual(['a.example']);
    expect(() => loadConfig({ ALLOWED_HOSTS: 'a b' })).toThrow(/ALLOWED_HOSTS/);
  });

  it('checks Host with AUTH=off or ALLOWED_HOSTS only, never allowing a wildcard HOST', () => {
    expect(hostCheck({ AUTH: 'on', HOST: '0.0.0.0', ALLOWED_HOSTS: undefined })).toBeNull();
    const wildcard = hostCheck({ AUTH: 'on', HOST: '0.0.0.0', ALLOWED_HOSTS: ['swarm.example'] })!;
    expect(wildcard('0.0.0.0:3000')).toBe(false);
    expect(wildcard('swarm.example:443')).toBe(true);
    const v6 = hostCheck({ AUTH: 'off', HOST: '::1', ALLOWED_HOSTS: undefined })!;
    expect(v6('[::1]:3000')).toBe(true);
    expect(v6('[::1]')).toBe(true);
    expect(v6('::1')).toBe(false);
    const other = hostCheck({ AUTH: 'off', HOST: '127.0.0.2', ALLOWED_HOSTS: undefined })!;
    expect(other('127.0.0.2:80')).toBe(true);
  });

  it('checks request timeouts often enough to answer within 1.25 times the setting', () => {
    expect(timeoutCheckInterval(100)).toBe(25);
    expect(timeoutCheckInterval(1_000)).toBe(250);
    expect(timeoutCheckInterval(15_000)).toBe(1_000);
    expect(timeoutCheckInterval(10)).toBe(25);
  });
});

describe('drainBody', () => {
  /** A stand-in for a request body still arriving: a stream with `complete: false`. */
  function body(): PassThrough & { complete: boolean } {
    return Object.assign(new PassThrough(), { complete: false });
  }

  it('reads to the end of the body', async () => {
    const request = body();
    const drained = drainBody(request as never);
    request.end(Buffer.alloc(10));
    await drained;
    expect(request.readableEnded).toBe(true);
  });

  it('stops at the limit, and does nothing for a complete or destroyed request', async () => {
    const request = body();
    const drained = drainBody(request as never, 5);
    request.write(Buffer.alloc(10));
    await drained;
    expect(request.readableEnded).toBe(false);
    await drainBody(Object.assign(body(), { complete: true }) as never);
    const destroyed = body();
    destroyed.destroy();
    await drainBody(destroyed as never);
  });
});

describe('the rate-limit window in words', () => {
  it('names the largest whole unit, singular for one', () => {
    expect(windowText(20_000)).toBe('20 seconds');
    expect(windowText(1_000)).toBe('1 second');
    expect(windowText(60_000)).toBe('1 minute');
    expect(windowText(90_000)).toBe('90 seconds');
    expect(windowText(7_200_000)).toBe('2 hours');
    expect(windowText(3_600_000)).toBe('1 hour');
    expect(windowText(1_500)).toBe('1500 ms');
  });
});
