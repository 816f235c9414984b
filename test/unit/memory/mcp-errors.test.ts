import { describe, expect, it } from 'vitest';
import {
  McpMemoryMissingToolsError,
  McpMemoryProtocolError,
  McpMemoryToolError,
  McpMemoryUnavailableError,
} from '../../../src/memory/mcp-errors.js';

describe('MCP memory errors', () => {
  it('name the tools a server lacks and the ones it offers, for the operator', () => {
    const error = new McpMemoryMissingToolsError(['search_nodes', 'open_nodes'], ['read_graph']);
    expect(String(error)).toBe(
      'McpMemoryMissingToolsError: MCP memory server is missing required tools: ' +
        'search_nodes, open_nodes (server offers: read_graph)',
    );
    expect(error).toMatchObject({
      missingTools: ['search_nodes', 'open_nodes'],
      availableTools: ['read_graph'],
    });
    expect(
      new McpMemoryMissingToolsError(['open_nodes'], ['read_graph', 'search_nodes']).message,
    ).toBe(
      'MCP memory server is missing required tools: open_nodes (server offers: read_graph, search_nodes)',
    );
    expect(new McpMemoryMissingToolsError(['search_nodes'], []).message).toBe(
      'MCP memory server is missing required tools: search_nodes (server offers: none)',
    );
  });

  it("keep a refused tool call's tool and the server's own words", () => {
    const error = new McpMemoryToolError('create_entities', 'ENOSPC');
    expect(String(error)).toBe(
      'McpMemoryToolError: MCP memory tool "create_entities" failed: ENOSPC',
    );
    expect(error).toMatchObject({ toolName: 'create_entities', serverMessage: 'ENOSPC' });
  });

  it('tell an unreachable server and a malformed answer apart by name, keeping the cause', () => {
    const cause = new Error('spawn ENOENT');
    const unavailable = new McpMemoryUnavailableError('not connected', { cause });
    expect(String(unavailable)).toBe('McpMemoryUnavailableError: not connected');
    expect(unavailable.cause).toBe(cause);
    expect(String(new McpMemoryProtocolError('no entities'))).toBe(
      'McpMemoryProtocolError: no entities',
    );
  });
});
