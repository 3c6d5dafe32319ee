import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFreshDist } from './helpers/fresh-dist';

// The built package as users get it: ESM and CommonJS entry points, with only tfjs-core,
// tfjs-layers and a backend loaded (no @tensorflow/tfjs union package).
describe('package: built entry points with tfjs-core + tfjs-layers only', function () {
  this.timeout(180000);
  before(ensureFreshDist);
  for (const format of ['esm', 'cjs']) {
    it(`${format}: OFT and BOFT apply, fit, merge, save and reload`, () => {
      const dir = mkdtempSync(join(tmpdir(), `oft-pkg-${format}-`));
      const out = JSON.parse(
        execFileSync('node', ['test/helpers/core-layers-only.mjs', format, dir], { encoding: 'utf8' }),
      );
      for (const name of ['oft', 'boft']) {
        const r = out[name];
        expect(r.losses[2]).to.be.below(r.losses[0]);
        expect(r.mergeDiff).to.be.below(1e-5);
        expect(r.reloadDiff).to.equal(0);
        expect(r.classes).to.include(name === 'oft' ? 'OrthogonalDense' : 'ButterflyDense');
      }
    });
  }
});
