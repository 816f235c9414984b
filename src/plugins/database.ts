import fastifyPlugin from 'fastify-plugin';
import { type DatabaseHandle, type DatabaseTarget, openDatabase } from '../store/database.js';

declare module 'fastify' {
  interface FastifyInstance {
    database: DatabaseHandle;
  }
}

/** Either a database to open (and close with the app) or one the caller owns and closes itself. */
export type DatabasePluginOptions = { target: DatabaseTarget } | { handle: DatabaseHandle };

/**
 * Opens the database (running migrations) and closes it when the app closes, unless the caller owns
 * it.
 */
export const databasePlugin = fastifyPlugin<DatabasePluginOptions>(
  async (app, options) => {
    const owned = 'target' in options;
    const warn = (message: string, details: object) => app.log.warn(details, message);
    const handle = owned ? await openDatabase(options.target, { warn }) : options.handle;
    app.decorate('database', handle);
    if (owned) app.addHook('onClose', () => handle.close());
  },
  { name: 'database' },
);
