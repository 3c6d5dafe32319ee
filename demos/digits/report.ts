// The demo's report: a Markdown table, the full measurements as JSON, and a hand-written SVG
// chart (what each method learned vs. kept, training loss, and task-A accuracy per epoch).
// No Node built-ins: the browser demo (demos/browser/) draws its live chart with svgChart.
import type { DemoResult, MethodResult } from './results';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const COLORS: Record<string, string> = {
  full: '#d62728',
  head: '#7f7f7f',
  lora: '#ff7f0e',
  oft: '#1f77b4',
  boft: '#2ca02c',
};

/** The results table in Markdown (one row per method). */
export function markdownTable(r: DemoResult): string {
  const lines = [
    `| Method | Trainable params | Task B accuracy (learned) | Task A accuracy (kept) | Forgot (A, points) | A kept ` +
      `when B first reached ${pct(r.matchedAccB)} | s / epoch | Peak tensor MB |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    `| *Pretrained on A, before fine-tuning* | – | ${pct(r.pretrain.accB)} | ${pct(r.pretrain.accA)} | – | – | – | – |`,
  ];
  for (const m of r.methods) {
    lines.push(
      `| ${m.label} | ${m.trainableParams.toLocaleString('en-US')} / ${m.totalParams.toLocaleString('en-US')} | ` +
        `${pct(m.accB)} | ${pct(m.accA)} | ${(m.forgetting * 100).toFixed(1)} | ` +
        `${m.accAAtMatchedB == null ? 'never reached' : pct(m.accAAtMatchedB)} | ${m.secondsPerEpoch.toFixed(2)} | ` +
        `${(m.peakBytes / 2 ** 20).toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}

/** The whole Markdown report: setup, table, per-method setups, merge check. */
export function markdownReport(r: DemoResult, shownPath: (path: string) => string = (p) => p): string {
  const o = r.options;
  const s = o.split;
  const out = [
    '# Does orthogonal fine-tuning forget less? (tfjs-oft digits demo)',
    '',
    `Backend \`${r.backend}\`. Task A: ${s.aTrain} real MNIST digits from the \`mnist\` package; task B: ${s.bTrain} ` +
      `other digits rotated by 90°. ` +
      `Test sets: ${s.aTest} (A) and ${s.bTest} (B) held-out digits. ViT: ${o.vit.numLayers} blocks, width ` +
        `${o.vit.hiddenSize}, ` +
      `${o.vit.numHeads} heads, MLP ${o.vit.mlpSize}, ${o.vit.patchSize}×${o.vit.patchSize} patches; pretrained ` +
        `${o.pretrainEpochs} epochs on A ` +
      `(${r.pretrain.cached ? 'loaded from the cache' : `${r.pretrain.seconds.toFixed(1)} s`}). Fine-tuning on B: ` +
        `${o.epochs} epochs, ` +
      `batch ${o.batchSize}, Adam lr ${o.learningRate} for every method, seed ${o.seed}.`,
    '',
    markdownTable(r),
    '',
    `Forgot: task-A accuracy before minus after fine-tuning, at the end of the shared epoch budget. A method that ` +
      `learns ` +
      `less of B also forgets less of A, so the next column reads task-A accuracy at equal learning: when task-B ` +
        `accuracy first ` +
      `reached ${pct(r.matchedAccB)} (the lowest final B accuracy of the methods other than head only), interpolated ` +
        `between epochs.`,
    '',
    'Trainable params: trained / all weights of the model. Peak tensor MB: the peak of `tf.memory().numBytes` during ' +
      'a training step, ' +
      'minus the data already in memory (weights, optimizer state, activations and gradients).',
    '',
    ...r.methods.map((m) => `- **${m.label}**: ${m.setup}.`),
    '',
  ];
  if (r.merge) {
    out.push(
      `Merged the ${r.methods.find((m) => m.method === r.merge!.method)!.label} model with \`mergeAndUnload\`: ` +
        `max |merged − unmerged| over the task-B test predictions = ${r.merge.maxAbsDiff.toExponential(2)} ` +
        `(${r.merge.relDiff.toExponential(2)} relative), same predicted class: ${r.merge.sameArgmax ? 'yes' : 'NO'}; ` +
        `layer classes after merging: ${r.merge.layerClassesAfter.join(', ')}. ` +
        `Saved to \`${shownPath(r.merge.savedTo)}\`; ` +
        `reloaded, max diff ${r.merge.reloadMaxAbsDiff.toExponential(2)}.`,
      '',
    );
  }
  out.push(`Total time: ${r.totalSeconds.toFixed(1)} s wall clock, ${r.cpuSeconds.toFixed(1)} s of CPU time.`, '');
  return out.join('\n');
}

/** `s` escaped for SVG text. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A chart panel's box in SVG pixels. */
export interface Panel { x: number; y: number; w: number; h: number }

/** Axes, grid, ticks and labels of a panel; returns the data-to-pixel maps with the SVG. */
export function axes(p: Panel, xMin: number, xMax: number, yMin: number, yMax: number, xLabel: string, yLabel: string,
  title: string, xTicks: number[], yTicks: number[], fmtX: (v: number) => string, fmtY: (v: number) => string) {
  const sx = (v: number) => p.x + ((v - xMin) / (xMax - xMin)) * p.w;
  const sy = (v: number) => p.y + p.h - ((v - yMin) / (yMax - yMin)) * p.h;
  const parts: string[] = [];
  parts.push(
    `<text x="${p.x + p.w / 2}" y="${p.y - 14}" text-anchor="middle" font-size="14" ` +
      `font-weight="bold">${esc(title)}</text>`,
  );
  for (const t of yTicks) {
    parts.push(`<line x1="${p.x}" x2="${p.x + p.w}" y1="${sy(t)}" y2="${sy(t)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${p.x - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11">${fmtY(t)}</text>`);
  }
  for (const t of xTicks) {
    parts.push(`<line x1="${sx(t)}" x2="${sx(t)}" y1="${p.y}" y2="${p.y + p.h}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${sx(t)}" y="${p.y + p.h + 16}" text-anchor="middle" font-size="11">${fmtX(t)}</text>`);
  }
  parts.push(`<rect x="${p.x}" y="${p.y}" width="${p.w}" height="${p.h}" fill="none" stroke="#333"/>`);
  parts.push(
    `<text x="${p.x + p.w / 2}" y="${p.y + p.h + 34}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(${p.x - 46},${p.y + p.h / 2}) rotate(-90)" text-anchor="middle" ` +
      `font-size="12">${esc(yLabel)}</text>`,
  );
  return { sx, sy, svg: parts.join('\n') };
}

/** Round tick values between min and max (about n of them). */
export function ticks(min: number, max: number, n: number): number[] {
  const raw = (max - min) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((st) => st >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

function smooth(xs: number[], k: number): number[] {
  return xs.map((_, i) => {
    const lo = Math.max(0, i - k + 1);
    const win = xs.slice(lo, i + 1);
    return win.reduce((a, b) => a + b, 0) / win.length;
  });
}

/** What the chart reads: a finished demo result, or the browser demo's run so far. */
export interface ChartData {
  pretrain: Pick<DemoResult['pretrain'], 'accA'>;
  /** `batchesPerEpoch` places a run still in progress on the epoch axis. */
  options: Pick<DemoResult['options'], 'epochs'> & { batchesPerEpoch?: number };
  matchedAccB: number;
  methods: Pick<MethodResult, 'method' | 'label' | 'trainableParams' | 'accAByEpoch' | 'accBByEpoch' | 'batchLoss'>[];
}

/** The chart: three panels side by side, as an SVG document. */
export function svgChart(r: ChartData): string {
  const W = 1260, H = 430;
  const parts: string[] = [];
  const ms = r.methods;
  // Panel 1: task B accuracy (learned) vs task A accuracy (kept), one point per epoch: a method
  // that forgets less than another at the same task-B accuracy lies above it.
  const p1: Panel = { x: 70, y: 50, w: 320, h: 300 };
  const allAcc = ms.flatMap((m) => [...m.accAByEpoch, ...m.accBByEpoch]);
  const lo = Math.max(0, Math.floor(Math.min(...allAcc) * 10) / 10);
  const fmtPct = (v: number) => `${Math.round(v * 100)}%`;
  const a1 = axes(
    p1,
    lo,
    1,
    lo,
    1,
    'task B accuracy (rotated digits: learned)',
    'task A accuracy (upright digits: kept)',
    'Learned vs. kept, epoch by epoch',
    ticks(lo, 1, 5),
    ticks(lo, 1, 5),
    fmtPct,
    fmtPct,
  );
  parts.push(a1.svg);
  parts.push(
    `<line x1="${p1.x}" x2="${p1.x + p1.w}" y1="${a1.sy(r.pretrain.accA)}" y2="${a1.sy(r.pretrain.accA)}" ` +
      `stroke="#999" stroke-dasharray="4 3"/>`,
  );
  parts.push(
    `<text x="${p1.x + p1.w - 4}" y="${a1.sy(r.pretrain.accA) - 4}" text-anchor="end" font-size="10" ` +
      `fill="#666">task A before fine-tuning</text>`,
  );
  if (Number.isFinite(r.matchedAccB)) {
    const x = a1.sx(r.matchedAccB);
    parts.push(`<line x1="${x}" x2="${x}" y1="${p1.y}" y2="${p1.y + p1.h}" stroke="#999" stroke-dasharray="2 3"/>`);
    parts.push(
      `<text x="${x + 3}" y="${p1.y + p1.h - 6}" font-size="10" fill="#666">equal learning: B = ` +
        `${pct(r.matchedAccB)}</text>`,
    );
  }
  ms.forEach((m) => {
    const pts = m.accBByEpoch.map((b, i) => [a1.sx(b), a1.sy(m.accAByEpoch[i])]);
    parts.push(
      `<polyline points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}" fill="none" ` +
        `stroke="${COLORS[m.method]}" stroke-width="1.2" opacity="0.7"/>`,
    );
    pts
      .slice(1, -1)
      .forEach(([x, y]) =>
        parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.5" fill="${COLORS[m.method]}"/>`),
      );
    const [cx, cy] = pts[pts.length - 1];
    parts.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="6" fill="${COLORS[m.method]}"/>`);
    parts.push(
      `<text x="${(cx + 8).toFixed(1)}" y="${(cy + 4).toFixed(1)}" font-size="11" ` +
        `fill="${COLORS[m.method]}">${esc(m.method.toUpperCase())}</text>`,
    );
  });
  // Panel 2: training loss per batch (moving average), x in epochs.
  const p2: Panel = { x: 480, y: 50, w: 320, h: 300 };
  const allLoss = ms.flatMap((m) => smooth(m.batchLoss, 8)).filter(Number.isFinite);
  const lMax = Math.max(0.1, ...allLoss) * 1.05;
  const E = r.options.epochs;
  const a2 = axes(p2, 0, E, 0, lMax, 'epoch', 'training loss on B (8-batch moving mean)', 'Loss curves',
    ticks(0, E, Math.min(E, 10)), ticks(0, lMax, 5), (v) => String(v), (v) => String(v));
  parts.push(a2.svg);
  ms.forEach((m) => {
    const s = smooth(m.batchLoss, 8);
    const perEpoch = r.options.batchesPerEpoch ?? s.length / E;
    const pts = s.map((v, i) => `${a2.sx((i + 1) / perEpoch).toFixed(1)},${a2.sy(v).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${COLORS[m.method]}" stroke-width="1.8"/>`);
  });
  // Panel 3: task A accuracy after each epoch (forgetting as it happens), B dashed.
  const p3: Panel = { x: 890, y: 50, w: 320, h: 300 };
  const a3 = axes(p3, 0, E, 0, 1, 'epoch', 'accuracy (solid: task A, dashed: B)', 'Forgetting as it happens',
    ticks(0, E, Math.min(E, 10)), ticks(0, 1, 5), (v) => String(v), (v) => `${Math.round(v * 100)}%`);
  parts.push(a3.svg);
  ms.forEach((m) => {
    const line = (vals: number[], dash: string) =>
      `<polyline points="${vals.map((v, i) => `${a3.sx(i).toFixed(1)},${a3.sy(v).toFixed(1)}`).join(' ')}" ` +
        `fill="none" ` +
      `stroke="${COLORS[m.method]}" stroke-width="1.8"${dash}/>`;
    parts.push(line(m.accAByEpoch, ''));
    parts.push(line(m.accBByEpoch, ' stroke-dasharray="5 3"'));
  });
  // Legend, one row, each entry as wide as its text (about 6.2 px per character at 11 px).
  let lx = 70;
  ms.forEach((m) => {
    const text = `${m.label} (${m.trainableParams.toLocaleString('en-US')} trained)`;
    const y = H - 22;
    parts.push(`<rect x="${lx}" y="${y - 10}" width="14" height="10" fill="${COLORS[m.method]}"/>`);
    parts.push(`<text x="${lx + 20}" y="${y}" font-size="11">${esc(text)}</text>`);
    lx += 20 + text.length * 6.2 + 28;
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="Helvetica, Arial, sans-serif">\n<rect width="${W}" height="${H}" ` +
      `fill="white"/>\n${parts.join('\n')}\n</svg>\n`
  );
}
