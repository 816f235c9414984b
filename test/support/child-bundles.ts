/**
 * The programs that tests start as child processes, compiled once per run into plain JavaScript:
 * the service itself, its CLI, the maker of the PGlite snapshot, and the MCP servers of the memory
 * tests. Node loads such a bundle with about half the CPU that its many source files need
 * (≈ 1.3 s against ≈ 3.4 s through tsx for the app; ≈ 0.33 s against ≈ 0.6 s for server-memory,
 * which the suite starts dozens of times).
 *
 * The service, the CLI and the snapshot maker keep their packages external, so their bundles live
 * inside the project (`node_modules/.cache`) where Node finds the installed packages; the SQL
 * migrations are copied beside them because the store finds its migrations next to its own
 * module. The MCP servers are bundled whole: the official `@modelcontextprotocol/server-memory`
 * unchanged (as CommonJS, started through V8's code cache: ≈ 0.07 s of CPU less per start), the
 * fake servers, and the stalling proxy, which is pointed at the bundled server-memory.
 */
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { resolveServerMemoryBin } from '../../src/memory/mcp-transport.js';
import { onEmergencyExit } from './process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Paths of the compiled entry points; `remove()` deletes them. */
export interface ChildBundles {
  /** The service (`src/main.ts`): run it as `node <service>` with the service's environment. */
  service: string;
  /** The CLI (`src/cli-main.ts`): `node <cli> keys …`, with the service's environment. */
  cli: string;
  /** The PGlite snapshot maker (`test/support/pglite-snapshot-main.ts`). */
  pgliteSnapshot: string;
  /** The MCP servers that the memory tests run as `node <script>`. */
  mcpServers: McpServerScripts;
  remove(): Promise<void>;
}

/** Scripts of the MCP servers, each a single file with its packages inside. */
export interface McpServerScripts {
  /** The official server-memory, as installed. */
  serverMemory: string;
  /** test/support/fake-mcp-server.mjs: servers that lack tools or fail. */
  fake: string;
  /** test/support/hanging-mcp-server.mjs, in front of the bundled server-memory. */
  hanging: string;
}

const COMMON_OPTIONS: BuildOptions = { absWorkingDir: ROOT, bundle: true, platform: 'node', format: 'esm', target: 'node20', outExtension: { '.js': '.mjs' }, logLevel: 'warning' };
/** Bundled CommonJS dependencies call `require` for Node's own modules, which ES modules lack. */
const REQUIRE_SHIM = "import { createRequire as createRequireOfBundle } from 'node:module'; const require = createRequireOfBundle(import.meta.url);";

/** A CommonJS bundle has no `import.meta`; server-memory uses its URL only for a default file path (the tests always set MEMORY_FILE_PATH). */
const IMPORT_META_URL_SHIM = "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;";

/**
 * server-memory as a CommonJS bundle, started through test/support/code-cache-loader.cjs, which
 * keeps V8's code cache beside it: an ES module cannot be run from a code cache on Node 20. Returns
 * the entry script (`node <entry>`).
 */
async function buildServerMemory(directory: string): Promise<string> {
  const bundle = join(directory, 'server-memory.bundle.cjs');
  const entry = join(directory, 'server-memory.cjs');
  await build({
    ...COMMON_OPTIONS,
    format: 'cjs',
    entryPoints: [resolveServerMemoryBin()],
    outfile: bundle,
    define: { 'import.meta.url': 'importMetaUrl' },
    banner: { js: IMPORT_META_URL_SHIM },
  });
  await cp(join(ROOT, 'test', 'support', 'code-cache-loader.cjs'), join(directory, 'code-cache-loader.cjs'));
  await writeFile(entry, `require('./code-cache-loader.cjs').runCached(${JSON.stringify(bundle)});\n`);
  return entry;
}

/** Bundles the MCP servers with everything they import; the stalling proxy starts the bundled server-memory. */
async function buildMcpServers(directory: string): Promise<McpServerScripts> {
  const serverMemory = await buildServerMemory(directory);
  await build({
    ...COMMON_OPTIONS,
    entryPoints: { 'fake-mcp-server': 'test/support/fake-mcp-server.mjs', 'hanging-mcp-server': 'test/support/hanging-mcp-server.mjs' },
    outdir: directory,
    banner: { js: REQUIRE_SHIM },
    define: { 'process.env.SERVER_MEMORY_SCRIPT': JSON.stringify(serverMemory) },
  });
  return { serverMemory, fake: join(directory, 'fake-mcp-server.mjs'), hanging: join(directory, 'hanging-mcp-server.mjs') };
}

/** Compiles the child programs into a directory of this run's own (≈ 0.3 s). */
export async function buildChildBundles(): Promise<ChildBundles> {
  const directory = join(ROOT, 'node_modules', '.cache', 'swarm-control-tests', String(process.pid));
  const unregister = onEmergencyExit(() => rmSync(directory, { recursive: true, force: true }));
  await mkdir(directory, { recursive: true });
  const [, mcpServers] = await Promise.all([
    build({
      ...COMMON_OPTIONS,
      entryPoints: {
        service: 'src/main.ts',
        cli: 'src/cli-main.ts',
        'pglite-snapshot': 'test/support/pglite-snapshot-main.ts',
      },
      outdir: directory,
      packages: 'external',
    }),
    buildMcpServers(directory),
  ]);
  await cp(join(ROOT, 'src', 'store', 'migrations'), join(directory, 'migrations'), { recursive: true });
  return {
    service: join(directory, 'service.mjs'),
    cli: join(directory, 'cli.mjs'),
    pgliteSnapshot: join(directory, 'pglite-snapshot.mjs'),
    mcpServers,
    remove: async () => {
      unregister();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
