import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';

/** Asserts the response is an RFC 9457 problem document with this status, and returns its body. */
export function expectProblem(response: LightMyRequestResponse, status: number) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json();
  expect(body).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
  return body as {
    type: string;
    title: string;
    status: number;
    detail: string;
    errors?: Array<{ path: string; message: string; in?: string }>;
  };
}

/** The JSON-pointer paths a 422 problem names. */
export function errorPaths(response: LightMyRequestResponse): string[] {
  return (expectProblem(response, 422).errors ?? []).map((error) => error.path).sort();
}
