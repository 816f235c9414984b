import type { HealthCheck, Readiness } from '../domain/health.js';
import { withTimeout } from '../domain/timing.js';

/** How long the database has to answer a readiness probe. */
export const READY_TIMEOUT_MS = 2_000;

/** What readiness depends on: the database's answer, and memory's state when MEMORY_MCP is on. */
export interface HealthSources {
  pingDatabase(): Promise<void>;
  /**
   * null with MEMORY_MCP=off: memory then depends on the database only, which has its own check.
   */
  memory(): HealthCheck | null;
}

/**
 * Readiness: ready when the database answers within {@link READY_TIMEOUT_MS}. A memory circuit
 * that is not CLOSED degrades its check but never fails readiness: the API still works.
 */
export class HealthService {
  constructor(private readonly sources: HealthSources) {}

  async readiness(): Promise<Readiness> {
    const memory = this.sources.memory();
    const extra: Record<string, HealthCheck> = memory === null ? {} : { memory };
    try {
      await withTimeout(
        () => this.sources.pingDatabase(),
        READY_TIMEOUT_MS,
        () => new Error(`no answer within ${READY_TIMEOUT_MS} ms`),
      );
      return { ready: true, checks: { database: { status: 'up' }, ...extra } };
    } catch (error) {
      return {
        ready: false,
        checks: { database: { status: 'down', detail: String(error) }, ...extra },
      };
    }
  }
}
