import { z } from 'zod';

/** One dependency's state in `/health/ready`. */
export const healthCheckSchema = z.object({
  status: z.enum(['up', 'down', 'degraded']),
  detail: z.string().optional(),
  circuit: z
    .enum(['CLOSED', 'OPEN', 'HALF_OPEN'])
    .optional()
    .describe('memory: state of the MCP circuit breaker'),
  mcp: z
    .enum(['connected', 'disconnected'])
    .optional()
    .describe('memory: whether the MCP server is connected'),
});
export type HealthCheck = z.infer<typeof healthCheckSchema>;

/** What the service reports about itself: ready when its database answers, with every check. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, HealthCheck>;
}
