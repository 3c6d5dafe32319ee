// Writes the demo's report files (Node only; report.ts itself stays free of Node built-ins for
// the browser demo).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { markdownReport, svgChart } from './report';
import type { DemoResult } from './results';

/** The paths of the files `writeReport` writes. */
export interface ReportFiles {
  markdown: string;
  json: string;
  svg: string;
}

/** Writes results.md, results.json and chart.svg into `outDir`; returns their paths. */
export function writeReport(r: DemoResult, outDir: string): ReportFiles {
  mkdirSync(outDir, { recursive: true });
  const files = { markdown: join(outDir, 'results.md'), json: join(outDir, 'results.json'),
    svg: join(outDir, 'chart.svg') };
  writeFileSync(files.markdown, markdownReport(r, (p) => relative(process.cwd(), p)));
  writeFileSync(files.json, JSON.stringify(r, null, 2) + '\n');
  writeFileSync(files.svg, svgChart(r));
  return files;
}
