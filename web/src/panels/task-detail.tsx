import { useState } from 'preact/hooks';
import { Badge, Empty, ErrorNote, PageHeading } from '../components.js';
import { useApp } from '../context.js';
import { ago, dateTime, duration, pretty, shortId } from '../format.js';
import { newer, useCoalesced, useLiveEvents, useLoad, useNow } from '../hooks.js';
import { href } from '../router.js';
import type { TaskExecution } from '../types.js';
import { useProjectNames } from './projects.js';
import { TaskActions, cancelNote, taskOf } from './tasks.js';

/**
 * One task: its state and progress, its attempts as a timeline (agent, start, end, outcome,
 * duration), the progress messages seen while the page is open, its result or error, and what it
 * depends on. Live: its events update it and load its attempts again.
 */
export function TaskDetail({ id }: { id: string }) {
  const { api } = useApp();
  const now = useNow();
  const projects = useProjectNames();
  const task = useLoad(() => api.tasks.get(id), [id]);
  const attempts = useLoad(async () => {
    const list = await api.tasks.attempts(id);
    // The agents' names, for the timeline: a task has few attempts, and fewer agents.
    const ids = [...new Set(list.items.flatMap((attempt) => attempt.agent_id ?? []))];
    const agents = await Promise.all(
      ids.map((agentId) => api.client.agents.get(agentId).catch(() => undefined)),
    );
    const names = new Map(agents.flatMap((agent) => (agent ? [[agent.id, agent.name]] : [])));
    return { items: list.items, names };
  }, [id]);
  const reloadAttempts = useCoalesced(attempts.reload, 200);
  const [messages, setMessages] = useState<Array<{ at: string; phase: string; text: string }>>([]);
  useLiveEvents((event) => {
    const changed = taskOf(event);
    if (changed?.id !== id) {
      if (event.type === 'TASK_DELETED' && (event.data as { id?: string }).id === id) task.reload();
      return;
    }
    task.update((current) => newer(current, changed));
    if (event.type === 'TASK_EXECUTION') {
      const execution = event.data as unknown as TaskExecution;
      const text = changed.progress?.message ?? '';
      setMessages((current) => [
        ...current.slice(-49),
        { at: event.timestamp, phase: execution.phase, text },
      ]);
      reloadAttempts();
    }
  });
  const current = task.data;
  return (
    <section>
      <p class="crumbs">
        <a href="#/tasks">Tasks</a>
      </p>
      <PageHeading>{current?.title ?? 'Task'}</PageHeading>
      <ErrorNote error={task.error} />
      {current !== undefined && (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <Badge value={current.status} />
              {cancelNote(current) !== null && ` (${cancelNote(current)})`}
            </dd>
            <dt>Project</dt>
            <dd>
              <a href={href(`projects/${current.project_id}`)}>
                {projects.get(current.project_id) ?? shortId(current.project_id)}
              </a>
            </dd>
            <dt>Kind</dt>
            <dd>{current.kind === '' ? '—' : current.kind}</dd>
            <dt>Priority</dt>
            <dd>{current.priority}</dd>
            <dt>Attempts</dt>
            <dd>
              {current.attempts} of at most {current.max_attempts}
            </dd>
            <dt>Progress</dt>
            <dd>
              {current.progress === null
                ? '—'
                : `${Math.round(current.progress.value * 100)} %${current.progress.message ? ` · ${current.progress.message}` : ''}`}
            </dd>
            <dt>Depends on</dt>
            <dd>
              {current.depends_on.length === 0
                ? 'nothing'
                : current.depends_on.map((dependency) => (
                    <a key={dependency} class="dependency" href={href(`tasks/${dependency}`)}>
                      {shortId(dependency)}
                    </a>
                  ))}
            </dd>
            <dt>Created</dt>
            <dd>{dateTime(current.created_at)}</dd>
            <dt>Runs at</dt>
            <dd>{dateTime(current.run_at)}</dd>
            <dt>Updated</dt>
            <dd>{ago(current.updated_at, now)}</dd>
            <dt>Finished</dt>
            <dd>{dateTime(current.finished_at)}</dd>
          </dl>
          <TaskActions task={current} />
          <h2>Attempts</h2>
          <ErrorNote error={attempts.error} />
          {attempts.data !== undefined &&
            (attempts.data.items.length === 0 ? (
              <Empty>No agent has claimed this task yet.</Empty>
            ) : (
              <ol class="timeline">
                {attempts.data.items.map((attempt) => (
                  <li key={attempt.number} data-attempt={attempt.number}>
                    <strong>Attempt {attempt.number}</strong>{' '}
                    <Badge value={attempt.outcome ?? 'running'} /> by agent{' '}
                    {attempt.agent_id === null
                      ? 'an agent since deleted'
                      : (attempts.data!.names.get(attempt.agent_id) ?? shortId(attempt.agent_id))}
                    <div class="meta">
                      <span>started {dateTime(attempt.claimed_at)}</span>
                      <span>ended {dateTime(attempt.ended_at)}</span>
                      <span>took {duration(attempt.duration_ms)}</span>
                    </div>
                    {attempt.output !== null && attempt.output !== undefined && (
                      <pre aria-label={`Output of attempt ${attempt.number}`}>
                        {pretty(attempt.output)}
                      </pre>
                    )}
                    {attempt.error !== null && attempt.error !== undefined && (
                      <pre class="failure" aria-label={`Error of attempt ${attempt.number}`}>
                        {pretty(attempt.error)}
                      </pre>
                    )}
                  </li>
                ))}
              </ol>
            ))}
          {messages.length > 0 && (
            <>
              <h2>Progress messages</h2>
              <ol class="messages">
                {messages.map((message, index) => (
                  <li key={index}>
                    <time dateTime={message.at}>{dateTime(message.at)}</time> {message.phase}
                    {message.text !== '' && `: ${message.text}`}
                  </li>
                ))}
              </ol>
            </>
          )}
          <h2>Input</h2>
          <pre>{pretty(current.input)}</pre>
          <h2>Result</h2>
          <pre>{pretty(current.result)}</pre>
          {current.error !== null && current.error !== undefined && (
            <>
              <h2>Error</h2>
              <pre class="failure">{pretty(current.error)}</pre>
            </>
          )}
        </>
      )}
    </section>
  );
}
