#!/usr/bin/env node
import { exitStopped, onStopSignals } from '../stop-signals.js';
import { UsageError, parseOptions, usage } from './options.js';
import { Runner } from './runner.js';

/**
 * `swarm-agent` (`npm run agent -- …`). Exit codes: 0 stopped cleanly (SIGTERM or SIGINT), 1 a
 * failure it cannot get past (a refused key, say), 2 a wrong command line (the usage follows).
 * A second signal a second or more after the first skips what is left of the grace period; one
 * sooner is the same Ctrl-C, which `npm run agent` forwards (src/stop-signals.ts).
 */
function main(): void {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    const message = error instanceof UsageError ? error.message : String(error);
    process.stderr.write(message === '' ? `${usage}\n` : `${message}\n\n${usage}\n`);
    process.exitCode = 2;
    return;
  }
  const log = (message: string) =>
    void process.stderr.write(`${new Date().toISOString()} swarm-agent: ${message}\n`);
  const runner = new Runner(options, { log });
  onStopSignals({ first: () => runner.stop(), insist: () => runner.stop(0) });
  runner.run().then(
    () => exitStopped(0),
    (error: unknown) => {
      log(`stopped by an error: ${error instanceof Error ? error.message : String(error)}`);
      exitStopped(1);
    },
  );
}

main();
