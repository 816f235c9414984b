#!/usr/bin/env node
// The per-file gate of the mutation run (issue #20; docs/testing.md, "Mutation testing"):
// reads Stryker's JSON reports, prints one row per mutated file and exits 1 when a file's score
// is below the threshold (85 % unless --threshold N), 2 when a report is missing or unreadable.
//
//   node scripts/mutation-check.mjs [--threshold N] [--markdown] [report.json ...]
//
// --markdown prints the table as Markdown, as docs/testing.md shows the scores per file.
// Without report paths it reads reports/mutation/unit/mutation.json. The score is Stryker's:
// (killed + timed out) / (killed + timed out + survived + no coverage). Mutants marked equivalent
// in the code (`// Stryker disable next-line <mutator>: reason`) are "ignored" and not counted;
// compile and runtime errors are not counted either. A file without a counted mutant passes.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const args = process.argv.slice(2);
let threshold = 85;
let markdown = false;
const reports = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--threshold') {
    threshold = Number(args[++i]);
    if (!Number.isFinite(threshold)) usage(`--threshold needs a number, got ${args[i]}`);
  } else if (args[i] === '--markdown') {
    markdown = true;
  } else if (args[i] === '-h' || args[i] === '--help') {
    usage();
  } else {
    reports.push(args[i]);
  }
}
if (reports.length === 0) reports.push('reports/mutation/unit/mutation.json');

function usage(message) {
  if (message) console.error(message);
  console.error(
    'Usage: node scripts/mutation-check.mjs [--threshold N] [--markdown] [report.json ...]',
  );
  process.exit(message ? 2 : 0);
}

/** Tally of one file's mutants by the categories of the score. */
function tally(mutants) {
  const t = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 };
  for (const { status } of mutants) {
    if (status === 'Killed') t.killed++;
    else if (status === 'Timeout') t.timeout++;
    else if (status === 'Survived') t.survived++;
    else if (status === 'NoCoverage') t.noCoverage++;
    else if (status === 'Ignored') t.ignored++;
    else t.errors++;
  }
  const detected = t.killed + t.timeout;
  const valid = detected + t.survived + t.noCoverage;
  t.score = valid === 0 ? null : (100 * detected) / valid;
  return t;
}

const rows = [];
for (const path of reports) {
  let report;
  try {
    report = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    console.error(`Cannot read the mutation report ${path}: ${error.message}`);
    console.error('Run `npm run test:mutation` (or test:mutation:servers) first.');
    process.exit(2);
  }
  for (const [file, { mutants }] of Object.entries(report.files)) {
    rows.push({ file: relative(process.cwd(), file) || file, report: path, ...tally(mutants) });
  }
}
rows.sort((a, b) => a.file.localeCompare(b.file));

const header = ['file', 'score', 'killed', 'timeout', 'survived', 'no cov', 'ignored'];
const table = rows.map((r) => [
  r.file,
  r.score === null ? 'n/a' : `${r.score.toFixed(1)} %`,
  ...[r.killed, r.timeout, r.survived, r.noCoverage, r.ignored].map(String),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const padded = (cells) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
const markdownRow = (cells, i) =>
  `| ${cells.map((c, j) => (j === 0 && i !== undefined ? `\`${c}\`` : c)).join(' | ')} |`;
const below = (row) => row.score !== null && row.score < threshold;
if (markdown) {
  console.log(markdownRow(header));
  console.log(`|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
} else console.log(padded(header));
for (const [i, row] of table.entries()) {
  const mark = below(rows[i]) ? `  < ${threshold} %` : '';
  console.log(markdown ? markdownRow(row, i) + mark : padded(row) + mark);
}

// A file that moved from one part to the other keeps its old results in the old part's
// incremental file (Stryker carries every file that file holds into the next report).
const scoredBy = new Map();
for (const row of rows) scoredBy.set(row.file, [...(scoredBy.get(row.file) ?? []), row.report]);
const twice = [...scoredBy].filter(([, paths]) => paths.length > 1);
for (const [file, paths] of twice)
  console.log(
    `\n${file} is scored by ${paths.join(' and ')}: delete its entry from the part's` +
      ' incremental file and report that no longer mutates it.',
  );
if (twice.length > 0) process.exit(1);

const failing = rows.filter(below);
if (failing.length > 0) {
  console.log(`\n${failing.length} of ${rows.length} file(s) below ${threshold} %.`);
  process.exit(1);
}
console.log(`\nAll ${rows.length} file(s) at or above ${threshold} %.`);
