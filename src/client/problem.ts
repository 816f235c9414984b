/** The problem document the API answers every error with (RFC 9457). */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: Array<{ path: string; message: string; in?: string }>;
}

/**
 * The problem document of an error response, or one made from its status when the body is not one.
 */
export async function readProblem(response: Response): Promise<ProblemDocument> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as Partial<ProblemDocument>;
    if (typeof parsed.title === 'string' && typeof parsed.detail === 'string')
      return { ...parsed, status: response.status } as ProblemDocument;
  } catch {
    // Not JSON: described below from the status.
  }
  const title = response.statusText || `HTTP ${response.status}`;
  return {
    type: 'about:blank',
    title,
    status: response.status,
    detail: text.slice(0, 500) || title,
  };
}
