import { useEffect, useState } from 'preact/hooks';
import { useApp } from './context.js';
import type { LiveState } from './live.js';
import { AgentsPanel } from './panels/agents.js';
import { EventsPanel } from './panels/events.js';
import { MemoryPanel } from './panels/memory.js';
import { OverviewPanel } from './panels/overview.js';
import { ProjectDetail, ProjectsPanel } from './panels/projects.js';
import { SchedulesPanel } from './panels/schedules.js';
import { TaskDetail } from './panels/task-detail.js';
import { TasksPanel } from './panels/tasks.js';
import { type Route, useRoute } from './router.js';

const sections = [
  ['', 'Overview'],
  ['tasks', 'Tasks'],
  ['agents', 'Agents'],
  ['projects', 'Projects'],
  ['schedules', 'Schedules'],
  ['events', 'Events'],
  ['memory', 'Memory'],
] as const;

/** The connection banner: shown while the socket is down, with what the page does about it. */
function ConnectionBanner() {
  const { live } = useApp();
  const [state, setState] = useState<LiveState>(live.state);
  useEffect(() => live.onState(setState), [live]);
  const text =
    state.name === 'reconnecting' || (state.name === 'connecting' && !live.hasConnected)
      ? 'Live updates interrupted: reconnecting… Changes made meanwhile will appear once the connection is back.'
      : state.name === 'stopped'
        ? `Live updates stopped: ${state.reason}. Reload the page to try again.`
        : '';
  return (
    <div class={text === '' ? 'banner banner-hidden' : 'banner'} role="status" aria-live="polite">
      {text}
    </div>
  );
}

function Panel({ route }: { route: Route }) {
  const [section, id] = route.path;
  switch (section) {
    case undefined:
      return <OverviewPanel />;
    case 'tasks':
      return id === undefined ? <TasksPanel route={route} /> : <TaskDetail id={id} key={id} />;
    case 'agents':
      return <AgentsPanel route={route} />;
    case 'projects':
      return id === undefined ? (
        <ProjectsPanel route={route} />
      ) : (
        <ProjectDetail id={id} key={id} />
      );
    case 'schedules':
      return <SchedulesPanel route={route} />;
    case 'events':
      return <EventsPanel />;
    case 'memory':
      return <MemoryPanel />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no such page. <a href="#/">Go to the overview.</a>
          </p>
        </section>
      );
  }
}

/** The page: header with navigation and who is signed in, the banner, and the current panel. */
export function Shell({ onSignOut }: { onSignOut: (() => void) | undefined }) {
  const { caller } = useApp();
  const route = useRoute();
  const here = route.path[0] ?? '';
  return (
    <>
      <a class="skip-link" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Swarm Control</span>
        <nav aria-label="Sections">
          <ul>
            {sections.map(([path, label]) => (
              <li key={path}>
                <a href={`#/${path}`} aria-current={here === path ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          {caller.authentication === 'off' ? (
            <span>Authentication off: full access</span>
          ) : (
            <span>
              {caller.name ?? 'Key'} · <strong>{caller.role}</strong>
              {caller.project_ids !== null && ` · ${caller.project_ids.length} project(s)`}
            </span>
          )}
          {onSignOut !== undefined && (
            <button type="button" class="link" onClick={onSignOut}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <ConnectionBanner />
      <main id="main" tabIndex={-1}>
        <Panel route={route} key={route.path.join('/')} />
      </main>
    </>
  );
}

/** The skip link moves focus without changing the hash, which is the router's. */
function skipToMain(event: Event): void {
  event.preventDefault();
  document.getElementById('main')?.focus();
}
