#!/usr/bin/env bash
# Mutation testing of the core (docs/testing.md, "Mutation testing"). `npm run test:mutation` ==
# `scripts/run-mutation.sh unit`; `npm run test:mutation:servers` == `... servers`.
#   unit     stryker.config.mjs: the modules the unit tests kill, no servers
#   servers  stryker.servers.config.mjs: the modules whose killing tests need PostgreSQL
# Arguments after the part go to Stryker (e.g. --mutate src/tasks/cron.ts). Both parts are
# incremental (reports/mutation/<part>/stryker-incremental.json): a rerun tests only the mutants
# of changed code and tests. The run fails when Stryker's overall score or any file's score
# (scripts/mutation-check.mjs over reports/mutation/<part>/mutation.json) is below 85 %.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

part=${1:-unit}
[[ $# -gt 0 ]] && shift
case $part in
  unit) config=stryker.config.mjs ;;
  servers) config=stryker.servers.config.mjs ;;
  *) echo "Usage: scripts/run-mutation.sh [unit|servers] [stryker options]" >&2; exit 2 ;;
esac

node_modules/.bin/stryker run "$config" "$@"
stryker_status=$?
node scripts/mutation-check.mjs "reports/mutation/${STRYKER_REPORT:-$part}/mutation.json"
check_status=$?
((stryker_status != 0)) && exit "$stryker_status"
exit "$check_status"
