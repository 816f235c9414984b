import type { z } from 'zod';

/** One invalid field as a 422 problem document lists it: a JSON pointer and a message. */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * The fields a request body or query would be refused for, as the problem handler names them
 * (`/` for the value as a whole); [] when the schema accepts the value.
 */
export function fieldErrors(schema: z.ZodType, input: unknown): FieldIssue[] {
  const result = schema.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((issue) => ({
    path: `/${issue.path.map(String).join('/')}`,
    message: issue.message,
  }));
}

/** The messages of {@link fieldErrors}, for a check that does not care about the paths. */
export function messagesOf(schema: z.ZodType, input: unknown): string[] {
  return fieldErrors(schema, input).map((issue) => issue.message);
}
