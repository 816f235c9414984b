import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  type ReadResourceResult,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { allows } from '../domain/auth.js';
import { DomainError, ForbiddenError } from '../domain/errors.js';
import { type FailureSense, toolError, toolResult } from './results.js';
import type { McpServices, ToolContext, ToolSpec } from './tools.js';

/** How the server names itself in `initialize`. */
export const MCP_SERVER_INFO = { name: 'swarm-control', version: '0.1.0' };

const INSTRUCTIONS =
  'Swarm Control: a durable task queue and shared memory for agent swarms. Work loop: ' +
  'register_agent once, then claim_task (wait_ms up to 30000), report_progress before the lease ' +
  'runs out (stop if cancel_requested), then complete_task or fail_task with the attempt number.';

/** What a request's server needs: the services and tools, who calls, how to read failures. */
export interface McpRequestScope {
  services: McpServices;
  /** {@link toolSpecs} of `services`, built once per app: only `context` changes per request. */
  tools: Record<string, ToolSpec>;
  context: ToolContext;
  sense: FailureSense;
}

/** The checks every tool call passes before and after its work, whatever the tool. */
async function callTool(
  name: string,
  spec: ToolSpec,
  args: unknown,
  scope: McpRequestScope,
): Promise<CallToolResult> {
  const { principal } = scope.context.actor;
  try {
    if (!allows(principal, spec.access))
      throw new ForbiddenError(`A ${principal.role} key cannot make changes (tool ${name})`);
    const result = await spec.run(args as never, scope.context);
    return toolResult(result, spec.summary(result as never));
  } catch (error) {
    return toolError(error, name, scope.sense);
  }
}

/**
 * A resource read that fails is a JSON-RPC error (resources have no `isError`), with the problem.
 */
async function readJson(
  uri: URL,
  read: () => Promise<unknown>,
  sense: FailureSense,
): Promise<ReadResourceResult> {
  try {
    const text = JSON.stringify(await read());
    return { contents: [{ uri: uri.href, mimeType: 'application/json', text }] };
  } catch (error) {
    if (error instanceof McpError) throw error;
    const result = toolError(error, `resource ${uri.href}`, sense);
    const code = error instanceof DomainError ? -32002 : ErrorCode.InternalError;
    const text = (result.content[0] as { text: string }).text;
    throw new McpError(code, text);
  }
}

const resourceId = z.uuid();

function idOf(variables: Record<string, string | string[]>, uri: URL): string {
  const parsed = resourceId.safeParse(variables.id);
  if (!parsed.success)
    throw new McpError(ErrorCode.InvalidParams, `${uri.href}: the id must be a UUID`);
  return parsed.data;
}

function registerResources(server: McpServer, scope: McpRequestScope): void {
  const { services, context, sense } = scope;
  const { principal } = context.actor;
  const listProjects = async () => {
    const query = { limit: 100, offset: 0, sort: '-created_at' as const };
    const page = await services.projects.list(query, principal);
    const resources = page.items.map((project) => ({
      uri: `swarm://projects/${project.id}`,
      name: project.name,
      mimeType: 'application/json',
    }));
    return { resources };
  };
  server.registerResource(
    'project',
    new ResourceTemplate('swarm://projects/{id}', { list: listProjects }),
    { title: 'A project', mimeType: 'application/json' },
    (uri, variables) =>
      readJson(uri, () => services.projects.get(idOf(variables, uri), principal), sense),
  );
  server.registerResource(
    'task',
    new ResourceTemplate('swarm://tasks/{id}', { list: undefined }),
    { title: 'A task, with its status, progress and result', mimeType: 'application/json' },
    (uri, variables) =>
      readJson(uri, () => services.tasks.get(idOf(variables, uri), principal), sense),
  );
}

/**
 * A server for one HTTP request (stateless mode, docs/agents.md): the caller's actor is fixed
 * for its whole life, so every tool acts with that key's role and scope, exactly as REST does.
 */
export function createMcpServer(scope: McpRequestScope): McpServer {
  const server = new McpServer(MCP_SERVER_INFO, {
    capabilities: { tools: {}, resources: {} },
    instructions: INSTRUCTIONS,
  });
  for (const [name, spec] of Object.entries(scope.tools)) {
    server.registerTool(
      name,
      {
        title: spec.title,
        description: spec.description,
        inputSchema: spec.input,
        outputSchema: spec.output,
        annotations: { readOnlyHint: spec.access === 'read' },
      },
      (args: unknown) => callTool(name, spec, args, scope),
    );
  }
  registerResources(server, scope);
  return server;
}
