// Summarizes several runs of the digits demo (e.g. `npm run demo -- --seed 1 --out out-1`):
// mean ± standard deviation per method of what was learned, kept and forgotten.
//   npx tsx demos/digits/summarize.ts demo-output/results.json out-1/results.json out-2/results.json
import { readFileSync } from 'node:fs';
import { accAWhenBReached, DemoResult, METHOD_LABELS, Method } from './results';

/** One summary row: per-run values of each figure, in percent. */
export interface SummaryRow {
  method: Method;
  accB: number[];
  accA: number[];
  forgetting: number[];
  accAAtMatchedB: number[];
}

/** Collects the per-method figures of several demo results (the matched-B figure recomputed per run). */
export function summarize(runs: Array<Pick<DemoResult, 'methods'>>): SummaryRow[] {
  const rows = new Map<Method, SummaryRow>();
  for (const r of runs) {
    const level = Math.min(...r.methods.filter((m) => m.method !== 'head').map((m) => m.accB));
    for (const m of r.methods) {
      const row = rows.get(m.method) ?? { method: m.method, accB: [], accA: [], forgetting: [], accAAtMatchedB: [] };
      row.accB.push(100 * m.accB);
      row.accA.push(100 * m.accA);
      row.forgetting.push(100 * m.forgetting);
      const at = accAWhenBReached(m, level);
      if (at != null && m.method !== 'head') row.accAAtMatchedB.push(100 * at);
      rows.set(m.method, row);
    }
  }
  return [...rows.values()];
}

function meanSd(xs: number[]): string {
  if (xs.length === 0) return '–';
  const mu = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length === 1) return mu.toFixed(1);
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mu) ** 2, 0) / (xs.length - 1));
  return `${mu.toFixed(1)} ± ${sd.toFixed(1)}`;
}

/** The summary as a Markdown table (mean ± sample standard deviation over runs, in percent). */
export function summaryTable(rows: SummaryRow[], runs: number): string {
  const lines = [
    `| Method (${runs} runs) | Task B accuracy % | Task A accuracy % | Forgot (points) | A kept at equal learning % |`,
    '|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${METHOD_LABELS[r.method]} | ${meanSd(r.accB)} | ${meanSd(r.accA)} | ${meanSd(r.forgetting)} | ` +
        `${meanSd(r.accAAtMatchedB)} |`,
    );
  }
  return lines.join('\n');
}

const isMain = process.argv[1] != null && /summarize\.ts$/.test(process.argv[1]);
if (isMain) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: npx tsx demos/digits/summarize.ts RESULTS.json [MORE.json …]');
    process.exit(1);
  }
  const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as DemoResult);
  console.log(`seeds: ${runs.map((r) => r.options.seed).join(', ')}`);
  console.log(summaryTable(summarize(runs), runs.length));
}
