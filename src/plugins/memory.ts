import fastifyPlugin from 'fastify-plugin';
import { type MemoryConfig, type MemoryModule, openMemory } from '../memory/memory-module.js';

/** Options of {@link memoryPlugin}. */
export interface MemoryPluginOptions {
  config: MemoryConfig;
}

declare module 'fastify' {
  interface FastifyInstance {
    memory: MemoryModule;
  }
}

/**
 * The shared memory as `app.memory` (src/memory/memory-module.ts builds it). The replay worker
 * starts once the app is ready, so every plugin has subscribed to transitions first; on close it
 * stops, then the MCP server process goes.
 */
export const memoryPlugin = fastifyPlugin<MemoryPluginOptions>(
  async (app, { config }) => {
    const memory = await openMemory({
      config,
      database: app.database,
      writes: app.services.writes,
      logger: app.log.child({ module: 'memory' }),
    });
    app.decorate('memory', memory);
    app.addHook('onReady', async () => memory.start());
    app.addHook('onClose', () => memory.close());
  },
  { name: 'memory', dependencies: ['database', 'services'] },
);
