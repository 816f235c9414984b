// Mutation testing of the core, part 1 of 2 (issue #20; docs/testing.md, "Mutation testing"):
// the modules whose killing tests are the unit tests (project `unit`, no servers). The
// server-backed part is stryker.servers.config.mjs. `npm run test:mutation` runs this one and
// then scripts/mutation-check.mjs, which fails below 85 % on any file.
process.env.TEST_SERVERS = 'off';
process.env.MUTATION_PART = 'unit';
// STRYKER_MUTATE (comma-separated globs) narrows a run, STRYKER_REPORT names its report folder
// (reports/mutation/<name>/, default `unit`), so a subset keeps its own incremental file.
import { list, sharedOptions } from './stryker.shared.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...sharedOptions('unit'),
  // The modules of the core that the unit tests import; the ones only the API and memory tests
  // reach (the MCP client and its connection's server processes, the memory repository, the
  // error handler's client aborts and body draining over real sockets) are the servers part's. The REST client is
  // here: test/unit/client/rest-client.test.ts (a fake fetch) kills all its mutants in a minute,
  // as stream-socket.test.ts (a stand-in WebSocket) does the browser socket's and
  // memory-module.test.ts (a stand-in MCP server and database) the memory module's.
  mutate: list(process.env.STRYKER_MUTATE) ?? [
    'src/domain/**/*.ts',
    'src/memory/**/*.ts',
    '!src/memory/{mcp-client,mcp-connection,mcp-write-queue,memory-repository}.ts',
    'src/client/{event-stream,rest-client,collection,tasks,problem,stream-socket}.ts',
    'src/tasks/**/*.ts',
    'src/http/conditional.ts',
    'src/events/event-dispatcher.ts',
    'src/events/ws-gateway.ts',
    'src/events/ws-protocol.ts',
    'src/events/message-budget.ts',
    'src/events/retention.ts',
    'src/store/write-batcher.ts',
    'src/stop-signals.ts',
  ],
  disableBail: true,
  timeoutMS: 4_000,
  tempDirName: '.stryker-tmp',
};
