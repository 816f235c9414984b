/**
 * CPU time of a process from /proc (kept apart from child.ts, like ready.ts, so child processes
 * can read it without loading child.ts and its exit hooks).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/**
 * CPU time (user + system, all threads) a process has used so far, in ms, from /proc/<pid>/stat.
 */
export function readCpuMs(pid: number): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command (which may contain spaces) start at field 3; utime and stime are
  // fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}
