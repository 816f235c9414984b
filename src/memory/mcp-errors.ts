/**
 * Error types raised by the MCP memory client.
 *
 * They are distinct classes (rather than plain `Error`s) so the circuit breaker
 * and the replay queue can tell "the server is down, retry later" apart from
 * "the server answered and refused" without parsing messages.
 */

/**
 * The memory server is not reachable right now: it was never connected, it
 * crashed and is being respawned, or the client was closed.
 *
 * Thrown immediately (calls are never queued during an outage) so that the
 * circuit breaker can count the failure and the replay queue can keep the write.
 */
export class McpMemoryUnavailableError extends Error {
  override readonly name = 'McpMemoryUnavailableError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A tool call completed but the server flagged the result with `isError: true`.
 *
 * MCP reports tool-level failures (bad input, missing entity, server-side I/O
 * errors) as a successful JSON-RPC response carrying `isError`; treating that
 * as success would silently drop writes, so it is surfaced as this error.
 */
export class McpMemoryToolError extends Error {
  override readonly name = 'McpMemoryToolError';

  constructor(
    readonly toolName: string,
    readonly serverMessage: string,
  ) {
    super(`MCP memory tool "${toolName}" failed: ${serverMessage}`);
  }
}

/**
 * The server connected but does not offer every tool the client relies on
 * (wrong server binary, or an incompatible server-memory version).
 */
export class McpMemoryMissingToolsError extends Error {
  override readonly name = 'McpMemoryMissingToolsError';

  constructor(
    readonly missingTools: readonly string[],
    readonly availableTools: readonly string[],
  ) {
    const available = availableTools.length > 0 ? availableTools.join(', ') : 'none';
    const missing = missingTools.join(', ');
    super(`MCP memory server is missing required tools: ${missing} (server offers: ${available})`);
  }
}

/**
 * The server answered with data that does not have the shape the client
 * expects (for example a tool result without the `entities` array).
 */
export class McpMemoryProtocolError extends Error {
  override readonly name = 'McpMemoryProtocolError';
}
