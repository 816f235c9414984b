import { Badge, ErrorNote, PageHeading } from '../components.js';
import { useApp } from '../context.js';
import { percent } from '../format.js';
import { useCoalesced, useLiveEvents, useLoad } from '../hooks.js';
import { href } from '../router.js';
import { agentStatuses, projectStatuses, taskStatuses, type Stats } from '../types.js';

/** Task counts, once the service reports them (the stats of a server with the tasks API). */
interface TaskStats {
  total: number;
  by_status: Record<string, number>;
  finished_last_hour?: { succeeded: number; failed: number; success_rate: number | null };
}

function Counts({
  label,
  values,
  counts,
  link,
}: {
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
            <td class="number" data-count={value}>
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
  const data: (Stats & { tasks?: TaskStats }) | undefined = stats.data;
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
              label="Agents by status"
              values={agentStatuses}
              counts={data.agents.by_status}
              link={(status) => href('agents', { status })}
            />
          </section>
          <section class="card" aria-labelledby="tasks-card">
            <h2 id="tasks-card">
              Tasks <span class="total">{data.tasks?.total ?? '—'}</span>
            </h2>
            {data.tasks === undefined ? (
              <p class="empty">This server does not count tasks yet.</p>
            ) : (
              <Counts
                label="Tasks by state"
                values={taskStatuses}
                counts={data.tasks.by_status}
                link={(status) => href('tasks', { status })}
              />
            )}
          </section>
          <section class="card" aria-labelledby="runs-card">
            <h2 id="runs-card">Runs in the last hour</h2>
            {data.tasks?.finished_last_hour === undefined ? (
              <p class="empty">No runs are counted on this server yet.</p>
            ) : (
              <dl class="facts">
                <dt>Succeeded</dt>
                <dd data-count="runs-succeeded">{data.tasks.finished_last_hour.succeeded}</dd>
                <dt>Failed</dt>
                <dd data-count="runs-failed">{data.tasks.finished_last_hour.failed}</dd>
                <dt>Success rate</dt>
                <dd>{percent(data.tasks.finished_last_hour.success_rate)}</dd>
              </dl>
            )}
          </section>
          <section class="card" aria-labelledby="projects-card">
            <h2 id="projects-card">
              Projects <span class="total">{data.projects.total}</span>
            </h2>
            <Counts
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
