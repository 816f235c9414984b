/**
 * Result files and the generated README table. Each benchmark writes bench/results/<name>.json
 * with its absolute numbers, the baseline's numbers measured in the same run, the ratio, the
 * target and whether it passed, plus the machine it ran on.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './child.js';

/**
 * The reference result set, committed and shown in bench/README.md: written only by a run with
 * `--record`, when a change is meant to move the numbers. Other runs write to `latest/` (ignored
 * by git), so an ordinary run leaves the work tree clean.
 */
export const referenceDir = join(repoRoot, 'bench', 'results');
export const latestDir = join(referenceDir, 'latest');
export const readmePath = join(repoRoot, 'bench', 'README.md');
export const RESULTS_START = '<!-- results:start -->';
export const RESULTS_END = '<!-- results:end -->';

/** A target on one figure of a case: `ratio` or a key of `service`. */
export interface Target {
  on: string;
  op: '>=' | '<=';
  value: number;
  /** How the target reads in the table, e.g. "≥ 0.85× baseline". */
  text: string;
}

/** One measured case: the service and its baseline, both measured in this run. */
export interface CaseResult {
  id: string;
  title: string;
  /**
   * Absolute figures of the system under test (keys carry their unit: `rps`, `p99_ms`,
   * `ns_per_op`…).
   */
  service: Record<string, number>;
  /** The same figures for the baseline. */
  baseline: Record<string, number>;
  /** service vs baseline, as defined by `ratioDefinition` (null when not meaningful). */
  ratio: number | null;
  ratioDefinition: string;
  target: Target | null;
  /** null when the case has no target (reported only). */
  pass: boolean | null;
  /** One-line renderings for the table. */
  display: { service: string; baseline: string };
  notes?: string;
}

export interface MachineInfo {
  node: string;
  cpus: number;
  cpuModel: string;
  platform: string;
  arch: string;
  kernel: string;
  totalMemGiB: number;
  date: string;
}

export interface BenchmarkResult {
  name: string;
  title: string;
  mode: 'quick' | 'full';
  machine: MachineInfo;
  durationSec: number;
  settings: Record<string, unknown>;
  cases: CaseResult[];
  /** False when a target was missed or the benchmark could not run. */
  pass: boolean;
  error?: string;
  /** The code measured: commit, and files under src/ that differed from it. */
  source?: { commit: string; modifiedFiles: number };
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    node: process.version,
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    platform: process.platform,
    arch: process.arch,
    kernel: release(),
    totalMemGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    date: new Date().toISOString(),
  };
}

/** Checks `target` against the case's figures; null without a target. */
export function evaluate(
  target: Target | null,
  service: Record<string, number>,
  ratio: number | null,
): boolean | null {
  if (target === null) return null;
  const value = target.on === 'ratio' ? ratio : service[target.on];
  if (value === null || value === undefined || !Number.isFinite(value)) return false;
  return target.op === '>=' ? value >= target.value : value <= target.value;
}

/** Builds a case and evaluates its target in one go. */
export function makeCase(fields: Omit<CaseResult, 'pass'>): CaseResult {
  return { ...fields, pass: evaluate(fields.target, fields.service, fields.ratio) };
}

export function writeResult(result: BenchmarkResult, resultsDir: string): string {
  mkdirSync(resultsDir, { recursive: true });
  const path = join(resultsDir, `${result.name}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}

/** Every result file present (this run's and, for benchmarks skipped with --only, earlier ones). */
export function readAllResults(resultsDir: string): BenchmarkResult[] {
  let files: string[] = [];
  try {
    files = readdirSync(resultsDir).filter((file) => file.endsWith('.json'));
  } catch {
    return [];
  }
  const order = [
    'rest',
    'health',
    'websocket',
    'breaker',
    'literal',
    'memory',
    'tasks',
    'mcp',
    'writes',
  ];
  return files
    .map((file) => JSON.parse(readFileSync(join(resultsDir, file), 'utf8')) as BenchmarkResult)
    .sort((a, b) => rank(order, a.name) - rank(order, b.name));
}

function rank(order: string[], name: string): number {
  const index = order.indexOf(name);
  return index === -1 ? order.length : index;
}

function formatRatio(ratio: number | null): string {
  return ratio === null || !Number.isFinite(ratio) ? '—' : `${ratio.toFixed(2)}×`;
}

function verdict(pass: boolean | null): string {
  return pass === null ? 'reported' : pass ? 'PASS' : '**FAIL**';
}

/** The Markdown table of the given results. */
export function renderMarkdown(results: BenchmarkResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    const m = result.machine;
    const load = (result.settings.loadAverage as { start?: number[] } | undefined)?.start?.[0];
    const code = result.source
      ? `, commit ${result.source.commit}${result.source.modifiedFiles > 0 ? ` + ${result.source.modifiedFiles} modified files in src/` : ''}`
      : '';
    lines.push(
      `**${result.title}** — ${result.mode} run, ${m.date.slice(0, 16).replace('T', ' ')} UTC, Node ${m.node}, ` +
        `${m.cpus} × ${m.cpuModel}${load === undefined ? '' : ` (load average ${load.toFixed(1)} at start)`}${code}, ` +
        `${result.durationSec.toFixed(0)} s: ${result.pass ? 'all targets met' : '**target missed**'}`,
      '',
    );
    if (result.error) lines.push(`Error: \`${result.error.split('\n')[0]}\``, '');
    lines.push(
      '| Case | Service | Baseline | Ratio | Target | Result |',
      '|---|---|---|---|---|---|',
    );
    for (const c of result.cases) {
      const target = c.target === null ? '—' : c.target.text;
      lines.push(
        `| ${c.title} | ${c.display.service} | ${c.display.baseline} | ${formatRatio(c.ratio)} | ${target} | ${verdict(c.pass)} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** A plain-text table for the terminal. */
export function renderText(results: BenchmarkResult[]): string {
  const rows: string[][] = [
    ['Benchmark', 'Case', 'Service', 'Baseline', 'Ratio', 'Target', 'Result'],
  ];
  for (const result of results) {
    if (result.error)
      rows.push([
        result.name,
        'ERROR',
        result.error.split('\n')[0]!.slice(0, 100),
        '',
        '',
        '',
        'FAIL',
      ]);
    for (const c of result.cases) {
      rows.push([
        result.name,
        c.title,
        c.display.service,
        c.display.baseline,
        formatRatio(c.ratio),
        c.target?.text ?? '—',
        verdict(c.pass).replaceAll('*', ''),
      ]);
    }
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return [
    line(rows[0]!),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...rows.slice(1).map(line),
  ].join('\n');
}

/**
 * Replaces the generated section of bench/README.md (between the markers), keeping the hand-written
 * text.
 */
export function updateReadme(results: BenchmarkResult[]): void {
  let text: string;
  try {
    text = readFileSync(readmePath, 'utf8');
  } catch {
    text = '# Benchmarks\n';
  }
  const generated = `${RESULTS_START}\n<!-- Generated by bench/run.ts; edits between these markers are overwritten. -->\n\n${renderMarkdown(results)}${RESULTS_END}`;
  const start = text.indexOf(RESULTS_START);
  const end = text.indexOf(RESULTS_END);
  const next =
    start !== -1 && end > start
      ? `${text.slice(0, start)}${generated}${text.slice(end + RESULTS_END.length)}`
      : `${text.trimEnd()}\n\n## Latest results\n\n${generated}\n`;
  writeFileSync(readmePath, next);
}

/** Formats a number with a thin thousands separator for the table. */
export function fmt(value: number, decimals = 0): string {
  if (!Number.isFinite(value)) return String(value);
  return value
    .toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
    .replaceAll(',', ' ');
}
