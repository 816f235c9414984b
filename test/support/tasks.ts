import { expect } from 'vitest';
import type { TestApp } from './app.js';

type Json = Record<string, unknown>;

/** Calls on the task API of a test app, each checking the status it expects. */
export function taskApi(t: TestApp) {
  const call = async (method: string, url: string, payload?: object, status?: number) => {
    const response = await t.request({
      method: method,
      url: `/api/v1${url}`,
      ...(payload === undefined ? {} : { payload }),
    });
    if (status !== undefined) expect(response.statusCode, response.body).toBe(status);
    return response;
  };
  const body = async (method: string, url: string, payload: object | undefined, status: number) =>
    (await call(method, url, payload, status)).json();
  return {
    call,
    project: (name = 'Alpha'): Promise<Json & { id: string }> =>
      body('POST', '/projects', { name }, 201),
    agent: (projectId: string | null, fields: object = {}): Promise<Json & { id: string }> =>
      body(
        'POST',
        '/agents',
        { name: `agent-${Math.random()}`, agent_type: 'coder', project_id: projectId, ...fields },
        201,
      ),
    task: (projectId: string, fields: object = {}): Promise<Json & { id: string }> =>
      body('POST', '/tasks', { project_id: projectId, title: 'Write tests', ...fields }, 201),
    get: (id: string) => body('GET', `/tasks/${id}`, undefined, 200),
    claim: (agentId: string, waitMs = 0) =>
      call('POST', '/tasks/claim', { agent_id: agentId, wait_ms: waitMs }),
    heartbeat: (id: string, payload: object) => call('POST', `/tasks/${id}/heartbeat`, payload),
    complete: (id: string, payload: object) => call('POST', `/tasks/${id}/complete`, payload),
    fail: (id: string, payload: object) => call('POST', `/tasks/${id}/fail`, payload),
    attempts: async (id: string) =>
      (await body('GET', `/tasks/${id}/attempts`, undefined, 200)).items,
  };
}
