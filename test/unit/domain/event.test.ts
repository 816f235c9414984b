import { describe, expect, it } from 'vitest';
import {
  agentEvent,
  eventSchema,
  projectEvent,
  scheduleEvent,
  systemEvent,
  taskEvent,
  toEnvelope,
  topicSchema,
} from '../../../src/domain/event.js';

const projectA = '5f0c7b8e-2a44-4d0a-9b1e-0c6f3c1d2e3a';
const projectB = '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
const agentId = '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e';
const taskId = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';

describe('event topics', () => {
  it('sends a project event to projects and the project', () => {
    expect(projectEvent('PROJECT_DELETED', projectA, { id: projectA })).toEqual({
      type: 'PROJECT_DELETED',
      topic: `project:${projectA}`,
      topics: ['projects', `project:${projectA}`],
      data: { id: projectA },
    });
  });

  it('sends an agent event to every project it left or joined, once each', () => {
    const data = { id: agentId, project_id: null };
    expect(
      agentEvent('AGENT_DELETED', agentId, [projectA, null, projectB, projectA], data),
    ).toEqual({
      type: 'AGENT_DELETED',
      topic: `agent:${agentId}`,
      topics: ['agents', `agent:${agentId}`, `project:${projectA}`, `project:${projectB}`],
      data,
    });
    expect(agentEvent('AGENT_DELETED', agentId, [null], data).topics).toEqual([
      'agents',
      `agent:${agentId}`,
    ]);
  });

  it('sends a task event to its project, and a step of an attempt to the agent too', () => {
    const task = { id: taskId, project_id: projectA };
    const data = { id: taskId, project_id: projectA };
    expect(taskEvent('TASK_DELETED', task, null, data)).toEqual({
      type: 'TASK_DELETED',
      topic: `task:${taskId}`,
      topics: ['tasks', `task:${taskId}`, `project:${projectA}`],
      data,
    });
    expect(taskEvent('TASK_DELETED', task, agentId, data).topics).toEqual([
      'tasks',
      `task:${taskId}`,
      `project:${projectA}`,
      `agent:${agentId}`,
    ]);
  });

  it('sends a schedule event to schedules, the schedule and its project', () => {
    const schedule = { id: taskId, project_id: projectB };
    expect(scheduleEvent('SCHEDULE_DELETED', schedule, schedule)).toEqual({
      type: 'SCHEDULE_DELETED',
      topic: `schedule:${taskId}`,
      topics: ['schedules', `schedule:${taskId}`, `project:${projectB}`],
      data: schedule,
    });
  });

  it('sends a system event to system alone', () => {
    const data = { from: 'CLOSED', to: 'OPEN', reason: 'failures', at: '2026-12-01T10:00:00.000Z' };
    expect(systemEvent('MEMORY_CIRCUIT', data as never)).toEqual({
      type: 'MEMORY_CIRCUIT',
      topic: 'system',
      topics: ['system'],
      data,
    });
  });

  it('accepts the root topics and a kind with a UUID as topic names, nothing else', () => {
    for (const topic of ['projects', 'system', `agent:${agentId}`, `schedule:${taskId}`]) {
      expect(topicSchema.safeParse(topic).success, topic).toBe(true);
    }
    for (const topic of ['project', `memory:${agentId}`, `agent:${agentId}x`, 'xsystem']) {
      expect(topicSchema.safeParse(topic).success, topic).toBe(false);
    }
  });
});

describe('toEnvelope', () => {
  it('sends the logged event without its routing topics, which the wire schema accepts', () => {
    const logged = {
      id: 7,
      type: 'PROJECT_DELETED' as const,
      topic: `project:${projectA}`,
      topics: ['projects', `project:${projectA}`],
      timestamp: '2026-12-01T10:00:00.000Z',
      data: { id: projectA },
    };
    const envelope = toEnvelope(logged);
    expect(envelope).toEqual({
      id: 7,
      type: 'PROJECT_DELETED',
      topic: `project:${projectA}`,
      timestamp: '2026-12-01T10:00:00.000Z',
      data: { id: projectA },
    });
    expect(eventSchema.parse(envelope)).toEqual(envelope);
  });
});
