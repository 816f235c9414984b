import { expect } from 'vitest';
import type { TestApp } from './app.js';
import { readWholeLog } from './event-log.js';

/** POSTs `payload` to `/api/v1/<url>`, expects `status` (201 unless given), returns the answer. */
export async function postJson(t: TestApp, url: string, payload: object, status = 201) {
  const response = await t.request({ method: 'POST', url: `/api/v1/${url}`, payload });
  expect(response.statusCode, response.body).toBe(status);
  return response.json();
}

/**
 * The whole event log and the newest 100 audit records: what a refused write must leave exactly
 * as it found them.
 */
export async function logAndAudit(t: TestApp): Promise<unknown[]> {
  return [
    await readWholeLog(t.request),
    (await t.request({ url: '/api/v1/audit?limit=100' })).json().items,
  ];
}
