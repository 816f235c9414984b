import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { expect } from 'vitest';

/** An untyped JSON answer, as `response.json()` gives one (tests read them all the time). */
export type Json = ReturnType<typeof JSON.parse>;

/** A tool call's answer, split into what tests look at. */
export interface ToolAnswer {
  isError: boolean;
  text: string;
  structured: Json;
}

/** The official SDK client, over Streamable HTTP, to `/mcp` of a listening app. */
export async function connectSwarm(
  baseUrl: string,
  headers: Record<string, string> = {},
): Promise<Client> {
  const client = new Client({ name: 'swarm-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', baseUrl), {
    requestInit: { headers },
  });
  await client.connect(transport);
  return client;
}

/** Calls a tool and returns its answer (a protocol error throws, which no test expects). */
export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<ToolAnswer> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
  return { isError: result.isError === true, text, structured: result.structuredContent };
}

/** Calls a tool that must succeed and returns its structured answer. */
export async function okTool(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<Json> {
  const answer = await callTool(client, name, args);
  expect(answer.isError, `${name}: ${answer.text}`).toBe(false);
  return answer.structured;
}

/** Calls a tool that must be refused and returns the error text. */
export async function refusedTool(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<string> {
  const answer = await callTool(client, name, args);
  expect(answer.isError, `${name} should be refused, answered ${answer.text}`).toBe(true);
  expect(answer.structured).toBeUndefined();
  return answer.text;
}
