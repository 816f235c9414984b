import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { callTool, connectSwarm } from '../support/swarm-mcp.js';

/*
 * `/mcp` is the one route whose 4xx are not all problem documents (docs/api.md, "Errors"): the
 * MCP SDK answers transport errors as JSON-RPC errors, as the MCP specification requires, and a
 * tool argument its schema refuses as the SDK's "Input validation error" tool result
 * (docs/agents.md). This file pins both, so a change of the SDK shows.
 */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-03-26',
    capabilities: {},
    clientInfo: { name: 't', version: '1' },
  },
};
const accept = { accept: 'application/json, text/event-stream' };

async function jsonRpcError(payload: object, headers: Record<string, string>, status: number) {
  const response = await t.request({ method: 'POST', url: '/mcp', payload, headers });
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(response.json()).toMatchObject({ jsonrpc: '2.0', error: { code: expect.any(Number) } });
}

describe('/mcp errors in the MCP form', () => {
  it('answers a transport error as a JSON-RPC error, not a problem', async () => {
    await jsonRpcError(initialize, {}, 406);
    await jsonRpcError({ foo: 1 }, accept, 400);
  });

  it('answers a tool argument its schema refuses with the SDK input validation text', async () => {
    const client = await connectSwarm(await t.listen());
    try {
      const answer = await callTool(client, 'claim_task', { agent_id: 'x', wait_ms: 99_999 });
      expect(answer.isError).toBe(true);
      expect(answer.text).toMatch(
        /^MCP error -32602: Input validation error: Invalid arguments for tool claim_task: /,
      );
    } finally {
      await client.close();
    }
  });
});
