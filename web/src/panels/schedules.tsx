import { useState } from 'preact/hooks';
import { Badge, Empty, ErrorNote, PageHeading } from '../components.js';
import { allowed, useApp } from '../context.js';
import { dateTime, until } from '../format.js';
import { newer, useCoalesced, useLiveEvents, useLoad, useNow } from '../hooks.js';
import { type Route, href } from '../router.js';
import type { Schedule } from '../types.js';
import { useProjectNames } from './projects.js';

function ScheduleActions({ schedule }: { schedule: Schedule }) {
  const { api, caller } = useApp();
  const [error, setError] = useState<unknown>(undefined);
  const [ran, setRan] = useState(false);
  if (!allowed(caller, 'write')) return null;
  return (
    <div class="actions">
      <button
        type="button"
        aria-label={`${schedule.enabled ? 'Disable' : 'Enable'} ${schedule.name}`}
        onClick={() =>
          void api.schedules
            .patch(schedule.id, { enabled: !schedule.enabled }, schedule.version)
            .then(() => setError(undefined), setError)
        }
      >
        {schedule.enabled ? 'Disable' : 'Enable'}
      </button>
      <button
        type="button"
        aria-label={`Run now ${schedule.name}`}
        onClick={() =>
          void api.schedules.run(schedule.id).then(() => {
            setRan(true);
            setError(undefined);
          }, setError)
        }
      >
        Run now
      </button>
      {ran && <span role="status">Started a run.</span>}
      <ErrorNote error={error} />
    </div>
  );
}

/** Schedules (of one project, or all): their next run, on or off, and a run now. Live. */
export function ScheduleList({ projectId }: { projectId?: string }) {
  const { api } = useApp();
  const now = useNow();
  const projects = useProjectNames();
  const schedules = useLoad(
    () => api.schedules.list({ project_id: projectId, limit: 100 }),
    [projectId],
  );
  const reload = useCoalesced(schedules.reload, 300);
  useLiveEvents((event) => {
    if (event.type === 'SCHEDULE_CREATED' || event.type === 'SCHEDULE_DELETED') return reload();
    if (event.type !== 'SCHEDULE_UPDATE') return;
    const changed = (event.data as { schedule: Schedule }).schedule;
    schedules.update((page) => ({
      ...page,
      items: page.items.map((item) => (item.id === changed.id ? newer(item, changed) : item)),
    }));
  });
  const items = schedules.data?.items;
  return (
    <>
      <ErrorNote error={schedules.error} />
      {items !== undefined &&
        (items.length === 0 ? (
          <Empty>No schedule.</Empty>
        ) : (
          <table class="list">
            <caption class="visually-hidden">Schedules</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                {projectId === undefined && <th scope="col">Project</th>}
                <th scope="col">When</th>
                <th scope="col">State</th>
                <th scope="col">Next run</th>
                <th scope="col">Last run</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((schedule) => (
                <tr key={schedule.id} data-schedule={schedule.id}>
                  <th scope="row">{schedule.name}</th>
                  {projectId === undefined && (
                    <td>
                      <a href={href(`projects/${schedule.project_id}`)}>
                        {projects.get(schedule.project_id) ?? schedule.project_id.slice(0, 8)}
                      </a>
                    </td>
                  )}
                  <td>
                    <code>{schedule.cron}</code> ({schedule.timezone})
                  </td>
                  <td>
                    <Badge value={schedule.enabled ? 'enabled' : 'disabled'} />
                  </td>
                  <td title={dateTime(schedule.next_run_at)}>
                    {schedule.enabled ? until(schedule.next_run_at, now) : '—'}
                  </td>
                  <td>{dateTime(schedule.last_run_at)}</td>
                  <td>
                    <ScheduleActions schedule={schedule} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </>
  );
}

export function SchedulesPanel({ route: _route }: { route: Route }) {
  return (
    <section>
      <PageHeading>Schedules</PageHeading>
      <ScheduleList />
    </section>
  );
}
