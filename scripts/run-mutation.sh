#!/usr/bin/env bash
# Mutation testing of the core (docs/testing.md, "Mutation testing"). `npm run test:mutation` ==
# `scripts/run-mutation.sh unit`; `npm run test:mutation:servers` == `... servers`.
#   unit     stryker.config.mjs: the modules the unit tests kill, no servers
#   servers  stryker.servers.config.mjs: the modules whose killing tests need PostgreSQL, one
#            Stryker run per group of stryker.servers.groups.mjs (STRYKER_GROUPS=a,b picks some),
#            or one run narrowed by hand with STRYKER_MUTATE (and STRYKER_TEST_FILES)
# Arguments after the part go to Stryker (e.g. --mutate src/tasks/cron.ts). Every run is
# incremental (reports/mutation/<report>/stryker-incremental.json): a rerun tests only the mutants
# of changed code and tests. The part fails when Stryker's overall score of a run or any file's
# score (scripts/mutation-check.mjs over the runs' mutation.json) is below 85 %.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

part=${1:-unit}
[[ $# -gt 0 ]] && shift
case $part in
  unit) config=stryker.config.mjs ;;
  servers) config=stryker.servers.config.mjs ;;
  *) echo "Usage: scripts/run-mutation.sh [unit|servers] [stryker options]" >&2; exit 2 ;;
esac

failed=0
reports=()
# One Stryker run writing reports/mutation/<report>/; with a group, STRYKER_GROUP picks its files.
run() {
  local report=$1 group=$2
  shift 2
  echo "== mutation: $report" >&2
  STRYKER_REPORT=$report STRYKER_GROUP=$group node_modules/.bin/stryker run "$config" "$@" ||
    failed=1
  reports+=("reports/mutation/$report/mutation.json")
}

if [[ $part == servers && -z ${STRYKER_MUTATE:-} ]]; then
  all=$(node --input-type=module -e \
    "console.log(Object.keys((await import('./stryker.servers.groups.mjs')).groups).join(','))")
  IFS=, read -ra chosen <<<"${STRYKER_GROUPS:-$all}"
  for group in "${chosen[@]}"; do run "servers/$group" "$group" "$@"; done
else
  run "${STRYKER_REPORT:-$part}" "" "$@"
fi
node scripts/mutation-check.mjs "${reports[@]}" || failed=1
exit "$failed"
