// `--peft`: times PEFT's steps on torch CPU (interop/peft/bench_step.py, in the venv that
// interop/peft/setup.sh makes) and prints its overhead ratios beside ours, measured in one invocation.
import { execFileSync } from 'node:child_process';
import { BenchResult, timeRatio } from './harness';

/** Our case name → PEFT's (bench_step.py); our baseline is the plain-ops frozen step, PEFT's the frozen Linear. */
const PAIRS: Array<[string, string]> = [
  ['OFT Neumann b=32', 'OFT Neumann b=32'],
  ['OFT exact b=32', 'OFT exact b=32'],
  ['ButterflyDense m=2 b=8', 'BOFT m=2 b=8'],
  ['ButterflyDense m=4 b=8', 'BOFT m=4 b=8'],
];
const OURS_BASE = 'frozen x·K+c (plain ops)';

/**
 * Runs PEFT's steps and prints its ratios beside ours. `byBackend` holds, per backend, groups of
 * results that were timed together; a case's ratio uses the baseline of its own group.
 */
export function printPeftComparison(byBackend: Map<string, BenchResult[][]>, repeats: number): void {
  let peft: { versions: Record<string, string>; threads: number; note: string; ratio: Record<string, number> };
  try {
    const setup = execFileSync('bash', ['interop/peft/setup.sh'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const python = setup.trim().split('\n').pop() as string;
    const out = execFileSync(python, ['interop/peft/bench_step.py', String(repeats)], { encoding: 'utf8' });
    peft = JSON.parse(out.trim().split('\n').pop() as string);
  } catch (e) {
    console.log(`\nPEFT comparison skipped: ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  const backends = [...byBackend.keys()];
  console.log(`\nOverhead of one training step, 1024→1024, 256 rows, ÷ the frozen step timed in the same run ` +
    `(ours: ÷ ${OURS_BASE}; PEFT ${peft.versions.peft}, torch ${peft.versions.torch} CPU, ${peft.threads} threads: ` +
    `÷ frozen Linear). ${peft.note}.`);
  const header = ['case', ...backends.map((b) => `tfjs-oft ${b}`), 'PEFT torch CPU'];
  const ratio = (groups: BenchResult[][], name: string): string => {
    const group = groups.find((g) => g.some((r) => r.name === name));
    const byName = new Map((group ?? []).map((r) => [r.name, r]));
    const [a, base] = [byName.get(name), byName.get(OURS_BASE)];
    const v = a == null || base == null ? NaN : timeRatio(a, base);
    return Number.isNaN(v) ? '–' : `${v.toFixed(2)}×`;
  };
  const rows = PAIRS.map(([ours, theirs]) => [ours, ...backends.map((b) => ratio(byBackend.get(b) ?? [], ours)),
    `${(peft.ratio[theirs] ?? NaN).toFixed(2)}×`]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  console.log(line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
}
