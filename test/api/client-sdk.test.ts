import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, SwarmClient } from '../../src/client/index.js';
import { type TestApp, createTestApp } from '../support/app.js';

let t: TestApp;
let client: SwarmClient;
beforeAll(async () => {
  t = await createTestApp();
  client = new SwarmClient({ baseUrl: await t.listen(), apiKey: 'unused-until-auth' });
});
afterAll(() => t.close());

describe('SwarmClient against the running service', () => {
  it('creates, reads, lists, patches, replaces and deletes', async () => {
    const project = await client.projects.create({ name: 'Client', sparc_mode: 'architecture' });
    expect(project).toMatchObject({ name: 'Client', version: 1 });
    expect(await client.projects.get(project.id)).toEqual(project);
    const agent = await client.agents.create({
      name: `sdk-${project.id}`,
      agent_type: 'coder',
      capabilities: ['ts', 'go'],
      project_id: project.id,
    });
    expect(
      (await client.agents.list({ capability: ['ts', 'go'], project_id: project.id })).items.map(
        (item) => item.id,
      ),
    ).toEqual([agent.id]);
    expect(
      (await client.projects.patch(project.id, { status: 'completed' }, { ifMatch: 1 })).version,
    ).toBe(2);
    expect((await client.projects.replace(project.id, { name: 'Renamed' })).sparc_mode).toBe(
      'specification',
    );
    expect((await client.agents.heartbeat(agent.id, { status: 'busy' })).status).toBe('busy');
    expect((await client.agents.heartbeat(agent.id)).last_active_at).not.toBeNull();
    await client.agents.delete(agent.id);
    await client.projects.delete(project.id, { ifMatch: 3 });
    const log = await client.events({ topic: [`project:${project.id}`], limit: 50 });
    expect(log.items.map((event) => event.type)).toContain('PROJECT_DELETED');
  });

  it('throws ApiError carrying the problem document', async () => {
    const error = await client.projects
      .get('00000000-0000-4000-8000-000000000000')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
    expect((error as ApiError).problem.detail).toBe(
      'Project 00000000-0000-4000-8000-000000000000 not found',
    );
    const invalid = (await client.projects
      .create({ name: '' })
      .catch((caught: unknown) => caught)) as ApiError;
    expect(invalid.problem.errors?.[0]).toMatchObject({ path: '/name' });
    const stale = await client.projects
      .create({ name: 'S' })
      .then((project) => client.projects.patch(project.id, { name: 'x' }, { ifMatch: 7 }))
      .catch((caught: unknown) => caught as ApiError);
    expect(stale.status).toBe(412);
  });
});
