/**
 * A minimal keep-alive JSON client over `node:http`, for benchmarks whose requests depend on the
 * previous answer (claim, then complete the task it returned), which autocannon cannot express.
 * It costs the load generator far less CPU per request than `fetch`, which matters when the
 * generator shares two cores with the servers it measures.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

/** One answer: status, parsed body (undefined when empty), send → last byte, and when that was. */
export interface JsonAnswer<T = unknown> {
  status: number;
  body: T;
  ms: number;
  /** `performance.now()` at the last byte. */
  at: number;
}

/** A client for one server, with at most `sockets` connections kept open. */
export class JsonHttp {
  private readonly agent: Agent;

  constructor(
    private readonly baseUrl: string,
    private readonly headers: Record<string, string>,
    sockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  /** Sends one request; rejects on a network error or after 60 s. */
  send<T>(method: string, path: string, body?: unknown): Promise<JsonAnswer<T>> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { ...this.headers };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const outgoing = request(
        `${this.baseUrl}${path}`,
        { method, headers, agent: this.agent, timeout: 60_000 },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const at = performance.now();
            const text = Buffer.concat(chunks).toString();
            resolve({
              at,
              status: response.statusCode ?? 0,
              body: (text === '' ? undefined : JSON.parse(text)) as T,
              ms: at - started,
            });
          });
        },
      );
      outgoing.on('timeout', () => outgoing.destroy(new Error(`${method} ${path} timed out`)));
      outgoing.on('error', reject);
      outgoing.end(payload);
    });
  }

  /** As {@link send}, but throws unless the status is `expected`. */
  async expect<T>(expected: number, method: string, path: string, body?: unknown): Promise<T> {
    const answer = await this.send<T>(method, path, body);
    if (answer.status !== expected)
      throw new Error(
        `${method} ${path}: ${answer.status} (expected ${expected}) ${JSON.stringify(answer.body)}`,
      );
    return answer.body;
  }

  close(): void {
    this.agent.destroy();
  }
}
