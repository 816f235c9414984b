import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { z } from 'zod';
import type { Actor } from '../domain/auth.js';
import { loggableUrl, problem, sendProblem } from '../http/problem.js';
import { actorOf } from '../http/request.js';
import { json, problems } from '../http/responses.js';
import { type McpRequestScope, createMcpServer } from '../mcp/server.js';
import type { FailureSense } from '../mcp/results.js';
import { type McpServices, toolSpecs } from '../mcp/tools.js';
import { isDatabaseUnavailable } from '../store/database-errors.js';

/** The path of the MCP endpoint. */
export const MCP_PATH = '/mcp';

/**
 * The audit log's mark of a change made through MCP: the user agent recorded is `mcp` followed
 * by the client's own, so `user_agent` tells MCP calls from REST calls of the same key without
 * a column of its own (docs/agents.md).
 */
export function mcpUserAgent(clientUserAgent: string | null): string {
  return clientUserAgent === null ? 'mcp' : `mcp ${clientUserAgent}`.slice(0, 512);
}

function mcpActor(request: FastifyRequest): Actor {
  const actor = actorOf(request);
  return { ...actor, userAgent: mcpUserAgent(actor.userAgent) };
}

/**
 * The Fastify request as the web-standard Request the transport reads (its body is parsed already).
 */
function webRequest(request: FastifyRequest): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers))
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  return new Request(`http://localhost${MCP_PATH}`, { method: request.method, headers });
}

/**
 * One JSON-RPC message (or batch) in, its answer out, through a server and transport made for
 * this request alone: stateless mode, so any instance behind a load balancer answers any request.
 */
async function answer(
  scope: Omit<McpRequestScope, 'context'>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const disconnect = new AbortController();
  const abort = () => disconnect.abort();
  // The socket, not the request: a request's `close` comes as soon as its body is read.
  request.raw.socket.once('close', abort);
  const context = { actor: mcpActor(request), signal: disconnect.signal };
  const server = createMcpServer({ ...scope, context });
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  try {
    await server.connect(transport);
    const response = await transport.handleRequest(webRequest(request), {
      parsedBody: request.body,
    });
    reply.code(response.status);
    response.headers.forEach((value, name) => void reply.header(name, value));
    const body = await response.text();
    return body === '' ? reply.send() : reply.send(body);
  } finally {
    request.raw.socket.off('close', abort);
    await server.close();
  }
}

const tags = ['MCP'];
const mcpMessage = z
  .unknown()
  .meta({ id: 'McpMessage', description: 'A JSON-RPC 2.0 message or batch (MCP)' });
const mcpAnswer = z
  .unknown()
  .meta({ id: 'McpAnswer', description: 'The JSON-RPC 2.0 response or batch of responses' });

const postSchema = {
  tags,
  operationId: 'postMcpMessage',
  summary: 'MCP over Streamable HTTP (stateless; JSON answers): tools and resources of the swarm',
  body: mcpMessage,
  response: {
    200: json('The JSON-RPC answer', mcpAnswer),
    202: json('A notification or response was accepted', z.undefined()),
    ...problems(401, 413, 415, 429, 503),
  },
};

function notAllowedSchema(method: 'Get' | 'Delete') {
  return {
    tags,
    operationId: `${method.toLowerCase()}Mcp`,
    summary:
      method === 'Get'
        ? 'No server-initiated stream in stateless mode: 405'
        : 'No session to end in stateless mode: 405',
    response: { ...problems(401, 405, 429) },
  };
}

const STATELESS =
  'This MCP endpoint is stateless: send every message as a POST (no stream, no session)';

function refuse(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.header('allow', 'POST');
  return sendProblem(reply, { ...problem(405, STATELESS), instance: loggableUrl(request.url) });
}

/**
 * `/mcp`: the service as an MCP server (docs/agents.md). Behind the same authentication, roles,
 * project scopes and rate limits as REST (the auth hook answers 401 before the body is read;
 * the route needs only `read`, and each write tool checks the role itself so that a reader
 * key gets an `isError` result instead of a refused request). Every tool calls the services
 * REST calls, so events, scopes, validation and audit records are the same.
 */
export const mcpPlugin = fastifyPlugin(
  async (app: FastifyInstance) => {
    const services: McpServices = { ...app.services, memory: app.memory.service };
    const tools = toolSpecs(services);
    const sense: FailureSense = {
      isUnavailable: isDatabaseUnavailable,
      logUnexpected: (error, tool) => app.log.error({ err: error, tool }, 'MCP call failed'),
    };
    const config = { access: 'read' as const };
    app.post(MCP_PATH, { config, schema: postSchema }, (request, reply) =>
      answer({ services, tools, sense }, request, reply),
    );
    app.get(MCP_PATH, { config, schema: notAllowedSchema('Get') }, (request, reply) =>
      refuse(request, reply),
    );
    app.delete(MCP_PATH, { config, schema: notAllowedSchema('Delete') }, (request, reply) =>
      refuse(request, reply),
    );
  },
  { name: 'mcp', dependencies: ['services', 'auth', 'memory'] },
);
