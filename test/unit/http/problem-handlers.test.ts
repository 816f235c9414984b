import { PassThrough } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { UnprocessableError } from '../../../src/domain/errors.js';
import { ClientErrorLog } from '../../../src/http/client-errors.js';
import {
  PROBLEM_CONTENT_TYPE,
  answerClientError,
  drainBody,
  frameworkErrorHandler,
  installProblemHandlers,
  problem,
  toProblem,
} from '../../../src/http/problem.js';

/**
 * The error handlers of src/http/problem.ts on an in-process Fastify app (`inject`, no socket):
 * what a client receives for each kind of failure. test/api/hardening-http.postgres-only.test.ts
 * proves the same over real sockets.
 */
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function logger() {
  return { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
}

async function appWith(isUnavailable = (_error: unknown) => false) {
  const log = logger();
  const instance = Fastify({ frameworkErrors: frameworkErrorHandler });
  instance.setValidatorCompiler(validatorCompiler);
  instance.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(instance, { clientErrors: new ClientErrorLog(log), isUnavailable });
  const typed = instance.withTypeProvider<ZodTypeProvider>();
  typed.post(
    '/items',
    {
      schema: {
        querystring: z.strictObject({ limit: z.coerce.number().int().max(10).optional() }),
        body: z.strictObject({ name: z.string().min(1) }),
      },
    },
    async () => ({ ok: true }),
  );
  typed.get('/fail', async () => {
    throw new Error('SELECT secret FROM keys');
  });
  typed.get('/nothing/:kind', async (request) => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- what a careless handler does
    throw (request.params as { kind: string }).kind === 'null' ? null : undefined;
  });
  typed.get('/stored', { schema: { querystring: z.strictObject({ limit: z.string() }) } }, () => {
    throw new UnprocessableError('limit and template are wrong', [
      { path: '/limit', message: 'too high' },
      { path: '/template/agent_id', message: 'names no agent' },
    ]);
  });
  typed.get('/away', async () => {
    throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  });
  typed.post('/closing', async (_request, reply) => {
    reply.header('connection', 'close');
    throw Object.assign(new Error('teapot'), { statusCode: 418 });
  });
  await instance.ready();
  app = instance;
  return { app: instance, log };
}

describe('installProblemHandlers', () => {
  it('answers invalid fields with 422, naming each field and where it is', async () => {
    const { app } = await appWith();
    const response = await app.inject({
      method: 'POST',
      url: '/items?limit=99',
      payload: { name: 'a' },
    });
    expect(response.statusCode).toBe(422);
    expect(response.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
    const body = response.json();
    expect(body).toMatchObject({
      type: '/problems/unprocessable-content',
      title: 'Unprocessable Content',
      status: 422,
      instance: '/items?limit=99',
    });
    expect(body.detail).toMatch(/^The request has invalid fields: query \/limit/);
    expect(body.errors).toEqual([{ path: '/limit', message: expect.any(String), in: 'query' }]);
  });

  it('names each unexpected field of a body as not allowed', async () => {
    const { app } = await appWith();
    const response = await app.inject({
      method: 'POST',
      url: '/items',
      payload: { name: 'a', colour: 'red', size: 2 },
    });
    expect(response.statusCode).toBe(422);
    expect(response.json().errors).toEqual([
      { path: '/colour', message: 'is not allowed', in: 'body' },
      { path: '/size', message: 'is not allowed', in: 'body' },
    ]);
    expect(response.json().detail).toBe('The request has invalid fields: body /colour, body /size');
  });

  it('names a whole body that is missing as the field at "/"', async () => {
    const { app } = await appWith();
    const response = await app.inject({
      method: 'POST',
      url: '/items',
      headers: { 'content-type': 'application/json' },
      payload: '[]',
    });
    expect(response.statusCode).toBe(422);
    expect(response.json().errors).toEqual([
      { path: '/', message: expect.any(String), in: 'body' },
    ]);
  });

  it('hides an unexpected error behind a bare 500 and logs it', async () => {
    const { app } = await appWith();
    const logged = vi.spyOn(app.log, 'error');
    const response = await app.inject({ method: 'GET', url: '/fail' });
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('secret');
    expect(response.json()).toMatchObject({
      title: 'Internal Server Error',
      detail: 'An unexpected error occurred; it has been logged',
      instance: '/fail',
    });
    expect(logged).toHaveBeenCalledWith(
      { err: expect.objectContaining({ message: 'SELECT secret FROM keys' }) },
      'request failed',
    );
  });

  it("places a service's field errors in the part that holds the field, else in the body", async () => {
    const { app } = await appWith();
    const response = await app.inject({ method: 'GET', url: '/stored?limit=5' });
    expect(response.statusCode).toBe(422);
    expect(response.json().errors).toEqual([
      { path: '/limit', message: 'too high', in: 'query' },
      { path: '/template/agent_id', message: 'names no agent', in: 'body' },
    ]);
  });

  it('answers a thrown null or undefined with a bare 500, not as a client that left', async () => {
    const { app } = await appWith();
    const logged = vi.spyOn(app.log, 'error');
    for (const kind of ['null', 'undefined']) {
      const response = await app.inject({ method: 'GET', url: `/nothing/${kind}` });
      expect(response.statusCode, kind).toBe(500);
      expect(response.json()).toMatchObject({ title: 'Internal Server Error' });
    }
    expect(logged).toHaveBeenCalledTimes(2);
  });

  it('answers an outage with 503 and Retry-After, and logs no 4xx as a failure', async () => {
    const { app } = await appWith((error) => (error as { code?: string }).code === 'ECONNREFUSED');
    const logged = vi.spyOn(app.log, 'error');
    const away = await app.inject({ method: 'GET', url: '/away' });
    expect(away.statusCode).toBe(503);
    expect(away.headers['retry-after']).toBe('1');
    expect(away.json()).toMatchObject({
      title: 'Service Unavailable',
      detail: 'The database is unavailable; retry later',
    });
    const invalid = await app.inject({ method: 'POST', url: '/items', payload: {} });
    expect(invalid.statusCode).toBe(422);
    expect(invalid.headers['retry-after']).toBeUndefined();
    expect(logged).toHaveBeenCalledTimes(1);
  });

  it('answers unknown routes with 404 naming the method and path, not the query', async () => {
    const { app } = await appWith();
    const response = await app.inject({ method: 'DELETE', url: '/nowhere?token=abc' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      type: '/problems/not-found',
      title: 'Not Found',
      status: 404,
      detail: 'No route for DELETE /nowhere',
      instance: '/nowhere?token=[redacted]',
    });
  });

  it('answers a request that closes the connection once the rest of its body is read', async () => {
    const { app } = await appWith();
    const response = await app.inject({
      method: 'POST',
      url: '/closing',
      payload: { name: 'x'.repeat(1_000) },
    });
    expect(response.statusCode).toBe(418);
    expect(response.json()).toMatchObject({ title: 'Bad Request', detail: 'teapot' });
  });
});

describe('frameworkErrorHandler', () => {
  it('answers a malformed URL with a problem document too', async () => {
    const { app } = await appWith();
    const response = await app.inject({ method: 'GET', url: '/items/%E0%A4%A' });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
    expect(response.json()).toMatchObject({ status: 400, instance: '/items/%E0%A4%A' });
  });
});

describe('toProblem', () => {
  it('keeps the field errors of a 422 and leaves them out of other problems', () => {
    expect(problem(409, 'taken')).not.toHaveProperty('errors');
    expect(problem(422, 'bad', [])).toHaveProperty('errors', []);
  });

  it('treats only 4xx statuses of an error as the client’s', () => {
    expect(toProblem(Object.assign(new Error('upstream'), { statusCode: 502 }))).toMatchObject({
      status: 500,
      detail: 'An unexpected error occurred; it has been logged',
    });
    expect(toProblem(Object.assign(new Error('SELECT 1'), { statusCode: 500 }))).toMatchObject({
      detail: 'An unexpected error occurred; it has been logged',
    });
    expect(toProblem(Object.assign(new Error('odd'), { statusCode: 399 }))).toMatchObject({
      status: 500,
    });
    expect(toProblem(Object.assign(new Error('odd'), { statusCode: '404' }))).toMatchObject({
      status: 500,
    });
    expect(toProblem(Object.assign(new Error('edge'), { statusCode: 400 }))).toMatchObject({
      status: 400,
      detail: 'edge',
    });
  });

  it('says what to send instead for a wrong media type, a body too large or broken JSON', () => {
    const fastifyError = (code: string, statusCode: number) =>
      Object.assign(new Error('x'), { code, statusCode });
    expect(toProblem(fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415))).toMatchObject({
      title: 'Unsupported Media Type',
      detail: 'Send JSON with Content-Type: application/json',
    });
    expect(toProblem(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413))).toMatchObject({
      title: 'Content Too Large',
      detail: 'The request body exceeds the 1 MiB limit',
    });
    expect(toProblem(fastifyError('FST_ERR_CTP_INVALID_JSON_BODY', 400))).toMatchObject({
      detail: 'The body is not valid JSON',
    });
  });

  it('titles statuses it has no name for by their class', () => {
    expect(problem(499, 'x').title).toBe('Bad Request');
    expect(problem(500, 'x').title).toBe('Internal Server Error');
    expect(problem(501, 'x')).toMatchObject({
      type: '/problems/internal-server-error',
      title: 'Internal Server Error',
    });
  });
});

describe('answerClientError', () => {
  /** A connection as Node hands it to the client error hook: a writable duplex. */
  function socket() {
    const stream = new PassThrough();
    const written: string[] = [];
    stream.on('data', (chunk: Buffer) => written.push(chunk.toString()));
    return { stream, text: () => written.join('') };
  }

  function clientLog() {
    const log = logger();
    return { log, errors: new ClientErrorLog(log) };
  }

  it('answers headers over 16 KiB with 431 and closes the connection', async () => {
    const { stream, text } = socket();
    const { log, errors } = clientLog();
    answerClientError(
      Object.assign(new Error('overflow'), { code: 'HPE_HEADER_OVERFLOW' }),
      stream,
      errors,
    );
    await new Promise((resolve) => setImmediate(resolve));
    const [head, body] = text().split('\r\n\r\n');
    expect(head).toBe(
      [
        'HTTP/1.1 431 Request Header Fields Too Large',
        `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
        `Content-Length: ${Buffer.byteLength(body ?? '')}`,
        'Connection: close',
      ].join('\r\n'),
    );
    expect(JSON.parse(body ?? '')).toEqual(problem(431, 'The request headers exceed 16 KiB'));
    expect(stream.writableEnded).toBe(true);
    expect(log.info).toHaveBeenCalledWith(
      { clientError: true, code: 'HPE_HEADER_OVERFLOW', status: 431 },
      'client error: The request headers exceed 16 KiB',
    );
  });

  it('answers a request too slow with 408, anything else malformed with 400', async () => {
    const timedOut = socket();
    answerClientError(
      Object.assign(new Error('slow'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }),
      timedOut.stream,
      undefined,
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(timedOut.text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(timedOut.text()).toContain('"detail":"The request was not received in time"');
    const malformed = socket();
    answerClientError(
      Object.assign(new Error('bad'), { code: 'HPE_INVALID_METHOD' }),
      malformed.stream,
      undefined,
    );
    await new Promise((resolve) => setImmediate(resolve));
    const text = malformed.text();
    expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(text).toContain('"detail":"The request is malformed or incomplete"');
  });

  it('writes nothing to a connection reset, closed or no longer writable', async () => {
    for (const code of ['ECONNRESET', 'HPE_INVALID_EOF_STATE']) {
      const { stream, text } = socket();
      const { log, errors } = clientLog();
      answerClientError(Object.assign(new Error('gone'), { code }), stream, errors);
      await new Promise((resolve) => setImmediate(resolve));
      expect(stream.destroyed).toBe(true);
      expect(text()).toBe('');
      expect(log.info).toHaveBeenCalledWith(
        { clientError: true, code },
        'client closed or reset the connection mid-request',
      );
    }
    const { stream } = socket();
    stream.end();
    answerClientError(
      Object.assign(new Error('late'), { code: 'HPE_INVALID_METHOD' }),
      stream,
      undefined,
    );
    expect(stream.destroyed).toBe(true);
  });

  it('writes nothing when a response has already started on the connection', async () => {
    const { stream, text } = socket();
    Object.assign(stream, { _httpMessage: { headersSent: true } });
    answerClientError(
      Object.assign(new Error('late'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }),
      stream,
      undefined,
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.destroyed).toBe(true);
    expect(text()).toBe('');
  });
});

describe('drainBody', () => {
  /** A request body still arriving: a stream with `complete: false`. */
  function body(): PassThrough & { complete: boolean } {
    return Object.assign(new PassThrough(), { complete: false });
  }
  const events = ['data', 'end', 'close', 'error'] as const;
  const settled = async (promise: Promise<void>) => {
    let done = false;
    void promise.then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    return done;
  };

  it('reads a body of exactly the limit to its end', async () => {
    const request = body();
    const drained = drainBody(request as never, 5);
    request.write(Buffer.alloc(5));
    expect(await settled(drained)).toBe(false);
    request.end();
    await drained;
    expect(request.readableEnded).toBe(true);
  });

  it('finishes when the request is closed or fails mid-body', async () => {
    const closed = body();
    const closing = drainBody(closed as never);
    closed.write(Buffer.alloc(3));
    closed.destroy();
    expect(await settled(closing)).toBe(true);
    const failed = body();
    const failing = drainBody(failed as never);
    failed.destroy(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    expect(await settled(failing)).toBe(true);
  });

  it('leaves none of its listeners on the request once done', async () => {
    const request = body();
    const before = events.map((event) => request.listenerCount(event));
    const drained = drainBody(request as never, 5);
    request.write(Buffer.alloc(10));
    await drained;
    expect(events.map((event) => request.listenerCount(event))).toEqual(before);
  });
});
