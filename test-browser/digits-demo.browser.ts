import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import type { DemoState } from '../demos/browser/app';
import { BrowserDemo, startBrowserDemo } from '../demos/browser/server';
import { launchChromium, openPage, requireChromium } from './chromium';

// `npm run demo:browser` driven as a user drives it: pick wasm, block size 8 and 2 epochs,
// fine-tune, read the numbers the page shows, merge, download. The pretrained model is a short
// pretraining (3 epochs, cached) so that the run fits in CI; the page is the same.
describe('browser: the digits demo page (npm run demo:browser)', function () {
  let browser: Browser | undefined;
  let demo: BrowserDemo | undefined;

  before(async function () {
    const exe = requireChromium(this);
    demo = await startBrowserDemo({ port: 0, pretrainEpochs: 3, log: () => {} });
    browser = await launchChromium(exe);
  });

  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('fine-tunes with OFT on wasm: the loss falls, task-B accuracy rises, the merged model downloads', async () => {
    const page = await openPage(browser as Browser, `${demo!.origin}/`);
    const downloads = mkdtempSync(join(tmpdir(), 'oft-demo-download-'));
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
    try {
      await page.waitForFunction('window.tfjsOftDemo.status === "ready"');
      await page.select('#backend', 'wasm');
      await page.select('#block-size', '8');
      await page.$eval('#epochs', (el) => { (el as HTMLInputElement).value = '2'; });
      await page.click('#train');
      await page.waitForFunction('["done", "error"].includes(window.tfjsOftDemo.status)', { timeout: 240000 });
      const s = await page.evaluate('window.tfjsOftDemo') as DemoState;
      expect(s.status, s.message).to.equal('done');
      expect(s.backend).to.equal('wasm');
      // The accuracies before fine-tuning are the server's, measured in Node on the same model and digits.
      expect(s.accAByEpoch[0]).to.be.closeTo(demo!.pretrain.accA, 0.002);
      expect(s.accBByEpoch[0]).to.be.closeTo(demo!.pretrain.accB, 0.002);
      expect(s.epochLoss).to.have.length(2);
      expect(s.epochLoss[1], `epoch losses ${s.epochLoss}`).to.be.below(s.epochLoss[0]);
      const firstBatches = s.batchLoss.slice(0, 8), lastBatches = s.batchLoss.slice(-8);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(lastBatches), 'mean loss of the last 8 batches vs the first 8').to.be.below(0.9 * mean(firstBatches));
      expect(s.accBByEpoch[2], `task B accuracy by epoch ${s.accBByEpoch}`).to.be.above(s.accBByEpoch[0] + 0.05);
      expect(s.merge!.layerClasses).to.not.include('OrthogonalDense');
      expect(s.merge!.maxAbsDiff).to.be.at.most(1e-5 * s.merge!.maxAbs);
      expect(s.merge!.sameArgmax).to.equal(true);
      const text = await page.$eval('#status', (el) => el.textContent ?? '');
      const pcts = (xs: number[]) => xs.map((a) => (a * 100).toFixed(1)).join(' → ');
      const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
      expect(text).to.contain(`task B ${pct(s.accBByEpoch[0])} → ${pct(s.accBByEpoch[2])}`);
      const losses = s.epochLoss.map((l) => l.toFixed(3)).join(' → ');
      console.log(`      wasm: ${s.msPerStep?.toFixed(1)} ms/step; loss ${losses}; ` +
        `task B ${pcts(s.accBByEpoch)}%, task A ${pcts(s.accAByEpoch)}%`);

      await page.click('#download');
      const json = join(downloads, 'tfjs-oft-digits-merged.json');
      const bin = join(downloads, 'tfjs-oft-digits-merged.weights.bin');
      for (let i = 0; i < 100 && !(existsSync(json) && existsSync(bin)); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const saved = JSON.parse(readFileSync(json, 'utf8'));
      expect(JSON.stringify(saved.modelTopology)).to.not.contain('OrthogonalDense');
      const bytes = (saved.weightsManifest[0].weights as { shape: number[] }[])
        .reduce((n, w) => n + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
      expect(readFileSync(bin).length).to.equal(bytes);
    } finally {
      await page.close();
      rmSync(downloads, { recursive: true, force: true });
    }
  });
});
