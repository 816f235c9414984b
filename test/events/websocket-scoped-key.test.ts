import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { keyHeader } from '../support/keys.js';
import { readWholeLog } from '../support/event-log.js';
import { byDepth } from '../support/depth.js';
import { openSocket } from '../support/ws-client.js';

let t: TestApp;
let wsUrl: string;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestApp({ AUTH: 'on', WS_HEARTBEAT_MS: '10000' });
  wsUrl = `${(await t.listen()).replace('http', 'ws')}/ws`;
  admin = await keyHeader(t.app, { role: 'admin' });
});
afterAll(() => t.close());

const post = (url: string, payload: object) =>
  t.request({ method: 'POST', url, payload, headers: admin }).then((response) => response.json());

describe('a key scoped to one project on the WebSocket', () => {
  it('refuses a missing or bad key at the upgrade with 401', async () => {
    await expect(openSocket(wsUrl)).rejects.toThrow('401');
    await expect(openSocket(`${wsUrl}?token=sc_nope`)).rejects.toThrow('401');
  });

  const writes = byDepth(300, 1_000);
  it(`never receives an event of another project among ${writes} mixed events`, async () => {
    const mine = (await post('/api/v1/projects', { name: 'mine' })).id;
    const theirs = (await post('/api/v1/projects', { name: 'theirs' })).id;
    const token = (
      await keyHeader(t.app, { role: 'reader', project_ids: [mine] })
    ).authorization!.replace('Bearer ', '');
    await expect(openSocket(`${wsUrl}?token=${token}&topics=projects`)).rejects.toThrow('403');
    const socket = await openSocket(`${wsUrl}?token=${token}`);
    expect(await socket.next()).toMatchObject({ type: 'WELCOME', topics: [`project:${mine}`] });
    socket.send({ type: 'SUBSCRIBE', topics: ['agents', `project:${theirs}`] });
    expect(await socket.next()).toMatchObject({ type: 'ERROR', code: 'FORBIDDEN_TOPIC' });

    const agents = {
      mine: (
        await post('/api/v1/agents', { name: 'a-mine', agent_type: 'coder', project_id: mine })
      ).id,
      theirs: (
        await post('/api/v1/agents', { name: 'a-theirs', agent_type: 'coder', project_id: theirs })
      ).id,
    };
    for (let i = 0; i < writes; i += 1) {
      const target = i % 3 === 0 ? 'mine' : 'theirs';
      const project = target === 'mine' ? mine : theirs;
      if (i % 2 === 0)
        await t.request({
          method: 'PATCH',
          url: `/api/v1/projects/${project}`,
          payload: { metadata: { i } },
          headers: admin,
        });
      else
        await t.request({
          method: 'POST',
          url: `/api/v1/agents/${agents[target]}/heartbeat`,
          headers: admin,
        });
    }
    const log = await readWholeLog(t.request, `topic=project:${mine}`, admin);
    const received = await socket.events(log.length - 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const ids = socket.messages
      .filter((message) => typeof message.id === 'number')
      .map((message) => message.id);
    expect(ids).toEqual(log.slice(1).map((event) => event.id));
    expect(
      received.every(
        (event) =>
          JSON.stringify(event).includes(mine) &&
          !JSON.stringify(event.data).includes(`"project_id":"${theirs}"`),
      ),
    ).toBe(true);
    socket.socket.terminate();
  });
});
