import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { DomainError, UnprocessableError } from '../domain/errors.js';

/** What the MCP layer needs to know about failures it did not raise itself. */
export interface FailureSense {
  /** True for an error that means the database is unreachable (a 503 over REST). */
  isUnavailable(error: unknown): boolean;
  /** Records an unexpected error; the caller only learns that the call failed. */
  logUnexpected(error: unknown, tool: string): void;
}

/** The problem a REST call would have answered, as one line (plus one per invalid field). */
export function problemText(error: DomainError): string {
  const fields =
    error instanceof UnprocessableError
      ? error.errors.map((field) => `\n- ${field.path}: ${field.message}`).join('')
      : '';
  return `${error.title} (${error.status}): ${error.message}${fields}`;
}

/**
 * A refused or failed call as a tool result with `isError`, never a protocol error: the agent
 * (a model, often) reads the text and can correct itself, which it cannot do from a JSON-RPC
 * error its client may swallow. Unexpected errors are logged and answered without their details.
 */
export function toolError(error: unknown, tool: string, sense: FailureSense): CallToolResult {
  let text: string;
  if (error instanceof DomainError) text = problemText(error);
  else if (sense.isUnavailable(error))
    text = 'Service Unavailable (503): the database cannot be reached; retry later';
  else {
    sense.logUnexpected(error, tool);
    text = 'Internal Server Error (500): the call failed; the service logged why';
  }
  return { content: [{ type: 'text', text }], isError: true };
}

/** A successful tool result: the structured answer, and a short text for clients that show text. */
export function toolResult(structured: Record<string, unknown>, text: string): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

const PREVIEW_MAX_CHARACTERS = 2_000;

/** A JSON value as text for a summary line, cut at {@link PREVIEW_MAX_CHARACTERS} characters. */
export function preview(value: unknown): string {
  const text = JSON.stringify(value ?? null);
  return text.length <= PREVIEW_MAX_CHARACTERS
    ? text
    : `${text.slice(0, PREVIEW_MAX_CHARACTERS)}… (${text.length} characters)`;
}
