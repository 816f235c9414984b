/** Child-process entry of startPgliteSnapshot(): `node --import tsx pglite-snapshot-main.ts <path>`. */
import { writePgliteSnapshot } from './pglite-snapshot.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: pglite-snapshot-main.ts <path>');
await writePgliteSnapshot(path);
