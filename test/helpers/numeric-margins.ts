// Records every numeric tolerance check of the suite (`expect(err).to.be.below(tol)` or `.at.most(tol)`
// with a tolerance that is a power of ten ≤ 1e-3, as those of docs/math.md §9 are) so that a run can report its
// worst numerical error per tolerance: how close a backend comes to the tolerances of docs/math.md §9.
// Reporting only; the checks themselves pass or fail as written.
import * as chai from 'chai';

interface Check { value: number; tolerance: number; test: string }

const checks: Check[] = [];
let currentTest = '';

/** Sets the test that later checks belong to (called from a root beforeEach hook). */
export function setCurrentTest(title: string): void {
  currentTest = title;
}

function isSpecTolerance(t: unknown): t is number {
  return typeof t === 'number' && t > 0 && t <= 1e-3 && Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9;
}

chai.use((lib, utils) => {
  for (const name of ['below', 'lt', 'lessThan', 'most', 'lte']) {
    lib.Assertion.overwriteMethod(name, (original: (...args: unknown[]) => unknown) =>
      function (this: Chai.AssertionStatic, ...args: unknown[]) {
        const [tolerance] = args;
        const value = utils.flag(this, 'object') as unknown;
        if (typeof value === 'number' && isSpecTolerance(tolerance) && !utils.flag(this, 'negate')) {
          checks.push({ value: Math.abs(value), tolerance, test: currentTest });
        }
        return original.apply(this, args);
      });
  }
});

/** One line per tolerance: how many checks, the worst error seen and the test it came from. */
export function numericMarginReport(backend: string): string {
  const byTolerance = new Map<number, Check>();
  const counts = new Map<number, number>();
  for (const c of checks) {
    counts.set(c.tolerance, (counts.get(c.tolerance) ?? 0) + 1);
    const worst = byTolerance.get(c.tolerance);
    if (worst == null || c.value > worst.value) byTolerance.set(c.tolerance, c);
  }
  const lines = [...byTolerance.entries()].sort((a, b) => a[0] - b[0]).map(([tol, c]) =>
    `        tolerance ${tol.toExponential(1)}: ${counts.get(tol)} checks, worst ${c.value.toExponential(2)} ` +
    `(${(100 * c.value / tol).toFixed(0)}% of it) in "${c.test}"`);
  return [`      [numerical errors on ${backend}: worst value per tolerance, over ${checks.length} checks]`, ...lines]
    .join('\n');
}
