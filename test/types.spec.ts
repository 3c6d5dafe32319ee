import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { ensureFreshDist } from './helpers/fresh-dist';

// The built types as consumers compile them (no skipLibCheck): ESM and CommonJS projects
// under node16, nodenext and bundler resolution.
describe('types: consumer projects compile against dist/', function () {
  this.timeout(240000);
  before(ensureFreshDist);
  for (const c of ['node16 node16 module', 'node16 node16 commonjs', 'nodenext nodenext module',
    'nodenext nodenext commonjs', 'esnext bundler module']) {
    it(c, () => {
      const out = execFileSync('node', ['test/helpers/types-consumer.mjs', ...c.split(' ')], { encoding: 'utf8' });
      expect(out.trim()).to.equal('OK');
    });
  }
});
