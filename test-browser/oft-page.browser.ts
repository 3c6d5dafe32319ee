import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { referenceForward as boftForward, referenceRotation as boftRotation } from '../test/reference/boft-reference';
import { mat, maxAbs, maxAbsDiff, normals, rng } from '../test/reference/dense-math';
import { oftForward, oftRotation } from '../test/reference/oft-reference';
import { serveStatic, StaticServer } from '../demos/browser/static-server';
import { bundlePage, launchChromium, openPage, packedPackage, requireChromium, WASM_DIR } from './chromium';

const BACKENDS = ['wasm', 'webgl', 'webgpu'] as const;
const EPOCHS = 5;

interface MethodRun {
  losses: number[];
  tensorsAtEpochEnd: number[];
  msPerStep: number;
  /** null when bit-identical, else what differs. */
  reloadDifference: string | null;
  adapterDifference: string | null;
  mergeDiff: { diff: number; scale: number };
  mergedClasses: string[];
  tensorsLeft: number;
}
interface Checks {
  backend: string;
  wasmThreads?: boolean;
  seconds: number;
  fixed: { oft: number[]; boft: number[] };
  oft: MethodRun;
  boft: MethodRun;
}

/** What test-browser/page/checks.mjs puts on `window`. */
interface ChecksPage {
  runChecks(backend: string, opts: { epochs: number; fixed: typeof FIXED }): Promise<Checks>;
}

// One OrthogonalDense (exact Cayley) and one ButterflyDense (m = 2) with seeded weights, and
// their float64 outputs from the docs/math.md references (test/reference/), independent of our code.
const random = rng(77);
const ROWS = 5, D = 16, UNITS = 12;
const x = normals(random, ROWS * D), kernel = normals(random, D * UNITS, 0.3), bias = normals(random, UNITS, 0.1);
const oftR = normals(random, 4 * 6, 0.3), boftR = normals(random, 2 * 4 * 6, 0.3);
const boftS = normals(random, UNITS, 0.1).map((v) => 1 + v);
const FIXED = {
  oft: { rows: ROWS, d: D, units: UNITS, x: [...x], options: { oftBlockSize: 4, useCayleyNeumann: false },
    weights: { kernel: [...kernel], bias: [...bias], oft_r: [...oftR] } },
  boft: { rows: ROWS, d: D, units: UNITS, x: [...x], options: { boftBlockSize: 4, boftNButterflyFactor: 2 },
    weights: { kernel: [...kernel], bias: [...bias], boft_r: [...boftR], boft_s: [...boftS] } },
};
const REFERENCE = {
  oft: oftForward(mat(ROWS, D, x), mat(D, UNITS, kernel), bias,
    oftRotation({ b: 4, r: 4, v: oftR, blockShare: false, neumannTerms: null })).data,
  boft: boftForward(mat(ROWS, D, x), mat(D, UNITS, kernel), boftS, bias,
    boftRotation({ d: D, b: 4, m: 2, v: boftR })).data,
};

// The packed package, bundled by esbuild into a page, in headless Chromium on each backend:
// fit (OFT and BOFT), indexeddb:// save/load, adapter checkpoints, merge; ms/step per backend.
describe('browser: the packed package in headless Chromium', function () {
  let browser: Browser | undefined;
  let server: StaticServer | undefined;
  let packed: string | undefined;
  const ran: Partial<Record<(typeof BACKENDS)[number], Checks>> = {};

  before(async function () {
    const exe = requireChromium(this);
    packed = packedPackage();
    const js = await bundlePage('test-browser/page/checks.mjs', packed);
    const html = '<!doctype html><meta charset="utf-8"><title>tfjs-oft checks</title><link rel="icon" href="data:,">' +
      '<script type="module" src="/checks.js"></script>';
    server = await serveStatic({ '/index.html': Buffer.from(html), '/checks.js': js, '/wasm/': WASM_DIR });
    browser = await launchChromium(exe);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (packed != null) rmSync(dirname(packed), { recursive: true, force: true });
  });

  for (const backend of BACKENDS) {
    it(`${backend}: fit OFT and BOFT (loss falls, numTensors flat), indexeddb:// reload and adapter round trip ` +
      'bit-identical, merge', async function () {
      const page = await openPage(browser as Browser, `${server!.origin}/`);
      try {
        await page.waitForFunction('window.checksReady === true');
        if (backend === 'webgpu') {
          const why = await page.evaluate('window.webgpuAdapter()') as string | null;
          if (why != null) {
            console.log(`      SKIPPED webgpu: ${why}`);
            this.test!.title += ` — SKIPPED: ${why}`;
            this.skip();
          }
        }
        const r = await page.evaluate((b, opts) => (window as unknown as ChecksPage).runChecks(b, opts), backend,
          { epochs: EPOCHS, fixed: FIXED });
        expect(r.backend).to.equal(backend);
        for (const method of ['oft', 'boft'] as const) {
          const m = r[method];
          const what = `${backend} ${method}`;
          expect(m.losses).to.have.length(EPOCHS);
          expect(m.losses[EPOCHS - 1], `${what}: loss ${m.losses.join(', ')}`).to.be.below(0.8 * m.losses[0]);
          expect(new Set(m.tensorsAtEpochEnd).size, `${what}: numTensors at epoch ends ${m.tensorsAtEpochEnd}`)
            .to.equal(1);
          expect(m.tensorsLeft, `${what}: tensors left after disposing everything`).to.equal(0);
          expect(m.reloadDifference, `${what}: indexeddb:// reload`).to.equal(null);
          expect(m.adapterDifference, `${what}: adapter checkpoint round trip`).to.equal(null);
          expect(m.mergedClasses).to.deep.equal(['Dense', 'Dense', 'Dense']);
          expect(m.mergeDiff.diff, `${what}: merged vs unmerged`).to.be.at.most(1e-5 * m.mergeDiff.scale);
        }
        for (const method of ['oft', 'boft'] as const) {
          const ref = REFERENCE[method];
          expect(maxAbsDiff(r.fixed[method], ref), `${backend} ${method} vs float64 reference`)
            .to.be.at.most(1e-5 * maxAbs(ref));
        }
        ran[backend] = r;
        console.log(`      ${backend}${r.wasmThreads != null ? ` (threads: ${r.wasmThreads})` : ''}: ms/step OFT ` +
          `${r.oft.msPerStep.toFixed(1)}, BOFT ${r.boft.msPerStep.toFixed(1)}; ` +
          `loss OFT ${r.oft.losses[0].toFixed(3)} → ` +
          `${r.oft.losses[EPOCHS - 1].toFixed(3)}, BOFT ${r.boft.losses[0].toFixed(3)} → ` +
          `${r.boft.losses[EPOCHS - 1].toFixed(3)} (${r.seconds.toFixed(1)} s)`);
      } finally {
        await page.close();
      }
    });
  }

  it('the fixed layers give the same outputs on every backend that ran (within 1e-6 of max |y|)', function () {
    const runs = Object.values(ran) as Checks[];
    if (runs.length < 2) this.skip();
    for (const method of ['oft', 'boft'] as const) {
      const scale = maxAbs(REFERENCE[method]);
      const worst = Math.max(...runs.map((r) => maxAbsDiff(r.fixed[method], runs[0].fixed[method])));
      console.log(`      ${method}: largest difference between backends ${worst.toExponential(2)} ` +
        `(max |y| ${scale.toFixed(2)})`);
      expect(worst).to.be.at.most(1e-6 * scale);
    }
  });
});
