/**
 * CPU time of a PostgreSQL server: the postmaster (its pid is the first line of
 * `postmaster.pid`) and every process it started. A queue's cost lies as much in the database
 * as in the process that drives it, so the task benchmark reports both.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCpuMs } from './proc.js';

/** CPU ms used so far by each live process of the server, by pid. */
export type CpuSnapshot = Map<number, number>;

function parentOf(pid: string): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The CPU time of the server's processes now. */
export function postgresCpu(dataDir: string): CpuSnapshot {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const snapshot: CpuSnapshot = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const pid = Number(entry);
      if (pid === postmaster || parentOf(entry) === postmaster) snapshot.set(pid, readCpuMs(pid));
    } catch {
      // gone meanwhile
    }
  }
  return snapshot;
}

/**
 * CPU ms the server used between two snapshots: the growth of each process alive at the end (a
 * process started meanwhile counts whole). A backend that exited meanwhile is lost, which the
 * benchmarks avoid by keeping their pools' connections open throughout.
 */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}
