import { Badge, ErrorNote, PageHeading } from '../components.js';
import { useApp } from '../context.js';
import { percent } from '../format.js';
import { useCoalesced, useLiveEvents, useLoad } from '../hooks.js';
import { href } from '../router.js';
import { agentStatuses, attemptOutcomes, projectStatuses, taskStatuses } from '../types.js';

function Counts({
  name,
  label,
  values,
  counts,
  link,
}: {
  /** Names the cells for tests and styles: `data-count="<name>-<value>"`. */
  name: string;
  label: string;
  values: readonly string[];
  counts: Record<string, number>;
  link: (value: string) => string;
}) {
  const total = values.reduce((sum, value) => sum + (counts[value] ?? 0), 0);
  return (
    <table class="counts">
      <caption>{label}</caption>
      <tbody>
        {values.map((value) => (
          <tr key={value}>
            <th scope="row">
              <a href={link(value)}>
                <Badge value={value} />
              </a>
            </th>
            <td class="number" data-count={`${name}-${value}`}>
              {counts[value] ?? 0}
            </td>
            <td class="bar" aria-hidden="true">
              <span
                style={{ width: `${total === 0 ? 0 : ((counts[value] ?? 0) / total) * 100}%` }}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The overview: agents by status, tasks by state, runs of the last hour, projects and the shared
 * memory. Every number comes from `GET /api/v1/stats` (computed in SQL); an event that may change
 * one loads the stats again, at most every 300 ms.
 */
export function OverviewPanel() {
  const { api } = useApp();
  const stats = useLoad(() => api.stats(), []);
  const reload = useCoalesced(stats.reload, 300);
  useLiveEvents(reload);
  const data = stats.data;
  return (
    <section class="overview">
      <PageHeading>Overview</PageHeading>
      <ErrorNote error={stats.error} />
      {data !== undefined && (
        <div class="cards">
          <section class="card" aria-labelledby="agents-card">
            <h2 id="agents-card">
              Agents <span class="total">{data.agents.total}</span>
            </h2>
            <Counts
              name="agents"
              label="Agents by status"
              values={agentStatuses}
              counts={data.agents.by_status}
              link={(status) => href('agents', { status })}
            />
          </section>
          <section class="card" aria-labelledby="tasks-card">
            <h2 id="tasks-card">
              Tasks <span class="total">{data.tasks.total}</span>
            </h2>
            <Counts
              name="tasks"
              label="Tasks by state"
              values={taskStatuses}
              counts={data.tasks.by_status}
              link={(status) => href('tasks', { status })}
            />
          </section>
          <section class="card" aria-labelledby="runs-card">
            <h2 id="runs-card">
              Runs in the last hour <span class="total">{data.runs_last_hour.finished}</span>
            </h2>
            <p class="rate">
              Success rate{' '}
              <strong data-count="success-rate">{percent(data.runs_last_hour.success_rate)}</strong>
            </p>
            <Counts
              name="runs"
              label="Finished attempts by outcome"
              values={attemptOutcomes}
              counts={data.runs_last_hour.by_outcome}
              link={() => href('tasks')}
            />
          </section>
          <section class="card" aria-labelledby="projects-card">
            <h2 id="projects-card">
              Projects <span class="total">{data.projects.total}</span>
            </h2>
            <Counts
              name="projects"
              label="Projects by status"
              values={projectStatuses}
              counts={data.projects.by_status}
              link={(status) => href('projects', { status })}
            />
          </section>
          <section class="card" aria-labelledby="memory-card">
            <h2 id="memory-card">Memory</h2>
            <dl class="facts">
              <dt>Circuit</dt>
              <dd>
                <Badge value={data.memory.circuit} />
              </dd>
              <dt>Queued writes</dt>
              <dd data-count="queued-writes">{data.memory.queued_writes}</dd>
              <dt>Fallback answers</dt>
              <dd data-count="fallbacks">{data.memory.fallback_count}</dd>
              <dt>Entries</dt>
              <dd>{data.memory.entries}</dd>
            </dl>
            <p>
              <a href="#/memory">Search memory</a>
            </p>
          </section>
        </div>
      )}
    </section>
  );
}
