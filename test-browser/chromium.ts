// Headless Chromium for the browser tests: the system browser (Debian's `chromium`, or
// CHROMIUM_PATH), driven by puppeteer-core, which never downloads a browser of its own.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { ensureFreshDist } from '../test/helpers/fresh-dist';

/** WebGPU and WebGL on SwiftShader (software Vulkan): they work on a machine without a GPU. */
const GPU_FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader',
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/**
 * The Chromium executable. Where there is none: in CI (CI=true) the test fails, elsewhere it is
 * skipped with the install command, so that `npm run test:browser` stays runnable anywhere.
 */
export function requireChromium(ctx: Mocha.Context): string {
  const exe = process.env.CHROMIUM_PATH ?? CANDIDATES.find((p) => existsSync(p));
  if (exe != null && existsSync(exe)) return exe;
  const why = `no Chromium found (looked at ${process.env.CHROMIUM_PATH ?? CANDIDATES.join(', ')}). ` +
    'Install it with `apt-get install -y chromium`, or set CHROMIUM_PATH.';
  if (process.env.CI === 'true') throw new Error(`browser tests need Chromium in CI: ${why}`);
  console.log(`      SKIPPED: ${why}`);
  ctx.skip();
}

export async function launchChromium(exe: string): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return puppeteer.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', ...GPU_FLAGS] });
}

/** A new tab whose console errors and uncaught exceptions reach the test's output. */
export async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`      [page error] ${(e as Error).message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || process.env.BROWSER_LOG) console.log(`      [page console.${m.type()}] ${m.text()}`);
  });
  await page.goto(url);
  return page;
}

/**
 * `npm pack`s the package (dist/ built first when stale) and unpacks it into a temp folder:
 * the page imports what a user installs, not the sources.
 */
export function packedPackage(): string {
  ensureFreshDist();
  const dir = mkdtempSync(join(tmpdir(), 'oft-browser-pack-'));
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir],
    { encoding: 'utf8' });
  execFileSync('tar', ['-xzf', join(dir, out.trim().split('\n').pop() as string), '-C', dir]);
  return join(dir, 'package');
}

/** Bundles a page script for the browser with 'tfjs-oft' resolved to `packageDir`; tfjs from node_modules. */
export async function bundlePage(entry: string, packageDir: string): Promise<Uint8Array> {
  const result = await build({
    entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent',
    alias: { 'tfjs-oft': packageDir }, nodePaths: [resolve('node_modules')],
  });
  if (result.warnings.length > 0) throw new Error(`esbuild warnings: ${result.warnings.map((w) => w.text).join('; ')}`);
  return result.outputFiles[0].contents;
}

export const WASM_DIR = resolve('node_modules/@tensorflow/tfjs-backend-wasm/dist');
