#!/usr/bin/env node
/**
 * A real (SDK McpServer over stdio) but deliberately incomplete or failing
 * MCP server, to test how the memory client treats servers it cannot use.
 *
 * FAKE_MCP_MODE:
 *   no-tools      - no tools at all (the server does not even announce the tools capability)
 *   some-tools    - only the read tools search_nodes and open_nodes
 *   failing-tools - every tool server-memory has; reads return an empty graph,
 *                   writes answer `isError: true` (a simulated full disk)
 *   quirky-tools  - every tool, answering in unusual but possible ways: open_nodes
 *                   only as JSON text (no structuredContent), create_entities with
 *                   an empty list (as if the name already existed), search_nodes
 *                   with text that is not JSON, read_graph with isError and no message
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const mode = process.env.FAKE_MCP_MODE ?? 'no-tools';
const server = new McpServer({ name: `fake-memory-${mode}`, version: '0.0.0' });

const READ_TOOLS = ['search_nodes', 'open_nodes', 'read_graph'];
const WRITE_TOOLS = [
  'create_entities',
  'add_observations',
  'delete_entities',
  'delete_observations',
];

function emptyGraph() {
  const graph = { entities: [], relations: [] };
  return { content: [{ type: 'text', text: JSON.stringify(graph) }], structuredContent: graph };
}

function simulatedFailure(tool) {
  return {
    content: [{ type: 'text', text: `ENOSPC: no space left on device (simulated in ${tool})` }],
    isError: true,
  };
}

function registerReadTool(name) {
  server.registerTool(
    name,
    { inputSchema: { query: z.string().optional(), names: z.array(z.string()).optional() } },
    () => emptyGraph(),
  );
}

function registerFailingWriteTool(name) {
  server.registerTool(name, { inputSchema: {} }, () => simulatedFailure(name));
}

function text(value) {
  return { content: [{ type: 'text', text: value }] };
}

function registerQuirkyTools() {
  const tools = {
    open_nodes: () => text(JSON.stringify({ entities: [], relations: [] })),
    create_entities: () => ({ ...text('[]'), structuredContent: { entities: [] } }),
    search_nodes: () => text('this is not JSON'),
    read_graph: () => ({ content: [], isError: true }),
    add_observations: () => text('ok'),
    delete_entities: () => text('ok'),
    delete_observations: () => text('ok'),
  };
  for (const [name, handler] of Object.entries(tools)) {
    server.registerTool(name, { inputSchema: {} }, handler);
  }
}

if (mode === 'quirky-tools') {
  registerQuirkyTools();
} else if (mode === 'some-tools') {
  ['search_nodes', 'open_nodes'].forEach(registerReadTool);
} else if (mode === 'failing-tools') {
  READ_TOOLS.forEach(registerReadTool);
  WRITE_TOOLS.forEach(registerFailingWriteTool);
} else if (mode !== 'no-tools') {
  process.stderr.write(`fake-mcp-server: unknown FAKE_MCP_MODE ${mode}\n`);
  process.exit(2);
}

await server.connect(new StdioServerTransport());
process.stderr.write(`fake-mcp-server running in mode ${mode}\n`);
