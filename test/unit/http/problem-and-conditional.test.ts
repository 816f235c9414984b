import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  NotFoundError,
  UnavailableError,
  UnprocessableError,
} from '../../../src/domain/errors.js';
import {
  entityTag,
  expectedVersions,
  notModified,
  withEntityTag,
} from '../../../src/http/conditional.js';
import { isDatabaseUnavailable } from '../../../src/store/database-errors.js';
import { loggableUrl, problem, toProblem } from '../../../src/http/problem.js';

describe('toProblem', () => {
  it('renders domain errors with their own status and title', () => {
    expect(toProblem(new NotFoundError('Agent', 'x'))).toEqual({
      type: '/problems/not-found',
      title: 'Not Found',
      status: 404,
      detail: 'Agent x not found',
    });
    expect(toProblem(new ConflictError('taken'))).toMatchObject({ status: 409, title: 'Conflict' });
    expect(toProblem(new UnavailableError('later'))).toMatchObject({ status: 503 });
    expect(toProblem(new UnprocessableError('bad', [{ path: '/a', message: 'm' }]))).toMatchObject({
      status: 422,
      errors: [{ path: '/a', message: 'm' }],
    });
  });

  it('maps framework errors to 400, 413 and 415 and keeps other 4xx statuses', () => {
    expect(
      toProblem(
        Object.assign(new Error('x'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }),
      ),
    ).toMatchObject({ status: 413 });
    expect(
      toProblem(
        Object.assign(new Error('x'), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }),
      ),
    ).toMatchObject({ status: 415 });
    expect(
      toProblem(Object.assign(new SyntaxError('Unexpected token'), { statusCode: 400 })),
    ).toMatchObject({ status: 400, detail: 'The body is not valid JSON' });
    expect(toProblem(Object.assign(new Error('too slow'), { statusCode: 408 }))).toMatchObject({
      status: 408,
      title: 'Request Timeout',
      detail: 'too slow',
    });
    expect(toProblem(Object.assign(new Error('teapot'), { statusCode: 418 }))).toMatchObject({
      status: 418,
      title: 'Bad Request',
    });
  });

  it('hides unexpected errors behind a bare 500', () => {
    expect(toProblem(new Error('SELECT secret FROM x'))).toEqual(
      problem(500, 'An unexpected error occurred; it has been logged'),
    );
    expect(toProblem(undefined)).toMatchObject({ status: 500, title: 'Internal Server Error' });
    expect(problem(599, 'x').title).toBe('Internal Server Error');
  });

  it('turns what the store calls an outage into 503, and nothing else', () => {
    const refused = Object.assign(new Error('connect'), { code: 'ECONNREFUSED' });
    expect(toProblem(refused, isDatabaseUnavailable)).toMatchObject({ status: 503 });
    expect(toProblem(refused)).toMatchObject({ status: 500 });
  });
});

describe('entity tags', () => {
  it('quotes versions', () => expect(entityTag(4)).toBe('"4"'));

  it('sends a resource with the ETag of its version', async () => {
    const app = Fastify();
    app.get('/thing', async (_request, reply) => withEntityTag(reply, { id: 'a', version: 7 }));
    try {
      const response = await app.inject({ method: 'GET', url: '/thing' });
      expect(response.headers.etag).toBe('"7"');
      expect(response.json()).toEqual({ id: 'a', version: 7 });
    } finally {
      await app.close();
    }
  });

  it('reads If-Match lists, weak tags, * and garbage', () => {
    expect(expectedVersions(undefined)).toBeNull();
    expect(expectedVersions(' * ')).toBeNull();
    expect(expectedVersions('"3"')).toEqual([3]);
    expect(expectedVersions('W/"3", "5" ,"x"')).toEqual([3, 5]);
    expect(expectedVersions('3')).toEqual([]);
    expect(expectedVersions('"99999999999"')).toEqual([]);
  });

  it('reads versions of several digits, up to nine', () => {
    expect(expectedVersions('"12"')).toEqual([12]);
    expect(expectedVersions('W/"123456789"')).toEqual([123456789]);
  });

  it('matches nothing for a tag with anything before or after its quotes', () => {
    expect(expectedVersions('x"3"')).toEqual([]);
    expect(expectedVersions('"3"x')).toEqual([]);
    expect(expectedVersions('"3", W/"4"; "5"')).toEqual([3]);
  });

  it('answers If-None-Match', () => {
    expect(notModified(undefined, 1)).toBe(false);
    expect(notModified('"1"', 1)).toBe(true);
    expect(notModified('"2"', 1)).toBe(false);
    expect(notModified('*', 1)).toBe(true);
  });
});

describe('loggableUrl', () => {
  it('masks an API key passed as ?token= and leaves the rest', () => {
    expect(loggableUrl('/ws?topics=agents&token=sc_abc_def&last_event_id=3')).toBe(
      '/ws?topics=agents&token=[redacted]&last_event_id=3',
    );
    expect(loggableUrl('/ws?TOKEN=x')).toBe('/ws?TOKEN=[redacted]');
    expect(loggableUrl('/api/v1/projects?q=token')).toBe('/api/v1/projects?q=token');
  });
});
