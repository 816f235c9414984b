#!/usr/bin/env bash
# Runs the vitest projects defined in vitest.config.ts. `npm test` == `scripts/run-tests.sh all`.
set -uo pipefail

usage() {
  cat >&2 <<'EOF'
Usage: scripts/run-tests.sh [MODE] [--serial | --parallel N] [-- <extra vitest args>]

MODE:
  all        every project (unit, servers, pglite), no coverage (default; what `npm test` runs)
  coverage   same as all with v8 coverage and its 90 % gate, plus html + lcov reports in
             coverage/ (`npm run test:coverage`; .ci/run runs `all` with TEST_COVERAGE=1)
  unit       test/unit, mirroring src/: no servers started, fake clocks (project unit)
  api        test/api: projects, agents, auth matrix, input limits, fuzzing, HTTP hardening,
             health and docs, operations, CLI and first start, client SDK and package
  events     test/events: event log, WebSocket gateway, resume, revocation, scoped keys,
             hostile clients, two instances through Redis
  memory     test/memory: memory API, MCP client against real MCP servers, the breaker end to
             end, memory under faults
  tasks      test/tasks: the task queue (claims, leases, retries, schedules, dependencies, events)
  faults     test/faults: SIGKILL and restart, PostgreSQL outage, embedded database, npm start
  browser    test/browser: the dashboard, the client SDK and the /docs page in Debian's Chromium
             (playwright-core)
  harness    test/harness: the test servers and the engine switch themselves
  mcp        test/mcp: the /mcp endpoint through the official MCP SDK client
  agent      test/agent: the swarm-agent runner with real child processes
  pglite     the files that run on both engines (api, event log, memory API), on PGlite
             (project pglite, TEST_DB=pglite); the folder modes run on PostgreSQL
  v8-probe   test/v8-probe: the opt-in V8 check of src/next-tick-shape.ts (vitest.v8-probe.config.ts;
             not part of all; `npm run test:v8-probe`)

api, events, memory, faults, browser and harness run project servers on that folder.
Name files after `--` to run only those, e.g. `scripts/run-tests.sh pglite -- test/api/projects.test.ts`.

Depth: TEST_DEPTH=deep runs the fuzz and stress tests with their large counts (see test/support/depth.ts).

Parallelism (default: one worker per core, and half as many again for the servers project):
  --serial         one test file at a time (--no-file-parallelism)
  --parallel N     at most N worker processes (--maxWorkers N)
EOF
}

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

mode=all
if [[ $# -gt 0 && $1 != -* ]]; then
  mode=$1
  shift
fi

parallel_args=(--maxWorkers "$(nproc)")
# The servers project waits on processes and timers much of the time: half as many workers again
# as cores kept the cores busiest (docs/notes/2026-12-test-suite-speed.md).
servers_workers=$(( ($(nproc) * 3 + 1) / 2 ))
extra_args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --serial) parallel_args=(--no-file-parallelism); servers_workers=1; shift ;;
    --parallel)
      [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "--parallel needs a positive integer" >&2; usage; exit 2; }
      parallel_args=(--maxWorkers "$2"); servers_workers=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; extra_args=("$@"); break ;;
    *) echo "Unknown option: $1" >&2; usage; exit 2 ;;
  esac
done

needs_servers=1
folder=
case $mode in
  all) mode_args=(); [[ ${TEST_COVERAGE:-0} == 1 ]] && mode_args=(--coverage.enabled=true) ;;
  coverage) mode_args=(--coverage.enabled=true); export COVERAGE_HTML=1 ;;
  unit) mode_args=(); needs_servers=0; export TEST_SERVERS=off ;;
  v8-probe) mode_args=(--config vitest.v8-probe.config.ts); needs_servers=0 ;;
  pglite) mode_args=(--project pglite) ;;
  api | events | memory | tasks | mcp | agent | faults | browser | harness) mode_args=(--project servers); folder=test/$mode ;;
  *) echo "Unknown mode: $mode" >&2; usage; exit 2 ;;
esac

# A missing server binary stops the run at once with the line that installs it; as root with
# apt-get at hand, the run installs it itself and says so.
require() {
  local present=$1 package=$2 what=$3
  [[ $present == 1 ]] && return 0
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "$what not found: installing it (apt-get install -y $package)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package"; } >&2 && return 0
  fi
  echo "$what not found — install it with: apt-get install -y $package" >&2
  exit 1
}

if [[ $needs_servers == 1 ]]; then
  pg_bin=${PG_BIN_DIR:-/usr/lib/postgresql/15/bin}
  has() { "$@" >/dev/null 2>&1 && echo 1 || echo 0; }
  require "$(has test -x "$pg_bin/postgres")" postgresql-15 "PostgreSQL 15 server binaries ($pg_bin)"
  [[ -n ${REDIS_SERVER_BIN:-} ]] || require "$(has command -v redis-server)" redis-server redis-server
  require "$(has test -x "${CHROMIUM_PATH:-/usr/bin/chromium}")" chromium "Chromium (${CHROMIUM_PATH:-/usr/bin/chromium})"
fi

# A mode's folder is its file filter, unless the extra arguments name files of their own.
if [[ -n $folder ]]; then
  for arg in "${extra_args[@]}"; do [[ $arg == -* || ( $arg != */* && $arg != *.ts ) ]] || folder=; done
  [[ -n $folder ]] && mode_args+=("$folder")
fi

export SERVERS_MAX_WORKERS=$servers_workers
exec node_modules/.bin/vitest run "${mode_args[@]}" "${parallel_args[@]}" "${extra_args[@]}"
