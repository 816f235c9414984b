/**
 * Which memory errors are the caller's fault. The circuit breaker must not count them: a server
 * that rejects one bad request is not a failing server.
 */
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { UnprocessableError } from '../domain/errors.js';
import { McpMemoryToolError } from './mcp-errors.js';

/** How the MCP SDK words a tool call whose arguments fail the tool's input schema. */
const INPUT_VALIDATION = /Input validation error/;

/**
 * True for validation errors: our own {@link UnprocessableError}, and an MCP server refusing a
 * tool call's arguments (an `InvalidParams` error, or the `isError` result newer servers send
 * instead). Every other error, a timeout or a lost connection included, is a failure of the server.
 */
export function isMemoryCallerError(error: unknown): boolean {
  if (error instanceof UnprocessableError) return true;
  if (error instanceof McpError)
    return error.code === Number(ErrorCode.InvalidParams) && INPUT_VALIDATION.test(error.message);
  return error instanceof McpMemoryToolError && INPUT_VALIDATION.test(error.serverMessage);
}
