import { CliUsageError, runCli, usage } from './cli.js';

/** Exit codes: 0 done, 1 the command failed, 2 a wrong command line (the usage follows). */
runCli(process.argv.slice(2)).then(
  (output) => process.stdout.write(`${output}\n`),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    const usageError = error instanceof CliUsageError;
    process.stderr.write(usageError ? `${message}\n\n${usage}\n` : `${message}\n`);
    process.exitCode = usageError ? 2 : 1;
  },
);
