import type { FastifyInstance } from 'fastify';
import { type KeyInput, systemActor } from '../../src/domain/auth.js';

/** Creates an API key straight through the auth service and returns the bearer header for it. */
export async function keyHeader(
  app: FastifyInstance,
  input: Partial<KeyInput> & Pick<KeyInput, 'role'>,
): Promise<Record<string, string>> {
  const created = await app.auth.createKey(
    { name: `${input.role} test key`, project_ids: null, ...input },
    systemActor,
  );
  return { authorization: `Bearer ${created.key}` };
}
