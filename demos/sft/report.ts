// The SFT demo's report: Markdown table (one row per method and learning rate), the shown
// generations before and after, and an SVG chart of learned (exact match) against forgotten
// (held-out perplexity), one line per method through its three learning rates.
import { axes, esc, Panel, ticks } from '../digits/report';
import type { SftMethod, SftResult } from './pipeline';
import { SFT_METHOD_LABELS } from './pipeline';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const COLORS: Record<SftMethod, string> = { full: '#d62728', lora: '#ff7f0e', oft: '#1f77b4', boft: '#2ca02c' };
const show = (s: string) => JSON.stringify(s.replace(/\n$/, '⏎'));

/** The results table in Markdown. */
export function markdownTable(r: SftResult): string {
  const lines = [
    '| Method | lr | Trainable params | Exact match (learned) | Answer loss | Held-out ppl (forgot) | s / epoch ' +
      '| Peak tensor MB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    `| *Base model, before SFT* | – | – | ${pct(r.base.accuracy)} | ${r.base.answerLoss.toFixed(3)} | ` +
      `${r.base.perplexity.toFixed(2)} | – | – |`,
  ];
  for (const run of r.runs) {
    lines.push(
      `| ${SFT_METHOD_LABELS[run.method]} | ${run.learningRate} | ${run.trainableParams.toLocaleString('en-US')} / ` +
        `${run.totalParams.toLocaleString('en-US')} | ${pct(run.accuracy)} | ${run.answerLoss.toFixed(3)} | ` +
        `${run.perplexity.toFixed(2)} | ` +
        `${run.secondsPerEpoch.toFixed(2)} | ${(run.peakBytes / 2 ** 20).toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}

/** Greedy completions of the shown held-out prompts: base model, then each method's best run. */
export function generationsText(r: SftResult): string {
  const out: string[] = [];
  r.shownPrompts.forEach((e, i) => {
    out.push(`${show(e.prompt)} expected ${show(`${e.answer}\n`)}`);
    out.push(`  base: ${show(r.base.shown[i])}`);
    for (const run of bestRuns(r)) out.push(`  ${run.method} (lr ${run.learningRate}): ${show(run.shown[i])}`);
  });
  return out.join('\n');
}

/** Each method's run with the highest exact match (lowest perplexity on ties). */
export function bestRuns(r: SftResult): SftResult['runs'] {
  const best = new Map<SftMethod, SftResult['runs'][number]>();
  for (const run of r.runs) {
    const b = best.get(run.method);
    if (!b || run.accuracy > b.accuracy || (run.accuracy === b.accuracy && run.perplexity < b.perplexity))
      best.set(run.method, run);
  }
  return [...best.values()];
}

/** One line per OFT run: does the merged model generate the same tokens? */
export function mergeText(r: SftResult): string {
  return r.runs
    .filter((run) => run.merged)
    .map(
      (run) =>
        `mergeAndUnload(OFT, lr ${run.learningRate}): ` +
        `${run.merged!.identical}/${run.merged!.of} held-out completions token-identical ` +
        `(${run.merged!.sameTokens ? 'all the same' : 'NOT all the same'}); ` +
        `layer classes after: ${run.merged!.layerClasses.join(', ')}`,
    )
    .join('\n');
}

/** The whole Markdown report. */
export function markdownReport(r: SftResult): string {
  const s = r.settings,
    g = s.gpt;
  return [
    '# SFT of a small causal LM: what each method learned and forgot (tfjs-oft SFT demo)',
    '',
    `Backend \`${r.backend}\`${r.quick ? ' (--quick)' : ''}. ` +
      `Character GPT: ${g.numLayers} blocks, width ${g.hiddenSize}, ` +
      `${g.numHeads} heads; pretrained ${s.pretrainEpochs} epochs on Brown windows of ${s.pretrainTokens} characters ` +
      `(${r.pretrain.cached ? 'loaded from the cache' : `${r.pretrain.seconds.toFixed(1)} s`}). ` +
      `SFT: ${s.sftTrainExamples} ` +
      `examples, ${s.epochs} epochs, batch ${s.batchSize}, Adam, loss on answer tokens only; ` +
      `${s.sftTestExamples} held-out ` +
      `prompts on unseen words; seed ${s.seed}.`,
    '',
    markdownTable(r),
    '',
    'Exact match: greedy answer equals the expected one (and stops). ' +
      'Answer loss: mean cross-entropy (nats) of the answer ' +
      'tokens of the held-out prompts, teacher-forced. Held-out ppl: per-character perplexity on held-out ' +
      'Brown files (higher after SFT = forgot more). ' +
      'Peak tensor MB: peak of `tf.memory().numBytes` during two training ' +
      'steps above what was allocated before.',
    '',
    ...[...new Map(r.runs.map((run) => [run.method, run.setup])).entries()].map(
      ([m, setup]) => `- **${SFT_METHOD_LABELS[m]}**: ${setup}.`,
    ),
    '',
    '```text',
    generationsText(r),
    '```',
    '',
    mergeText(r),
    '',
    `Total time: ${r.totalSeconds.toFixed(1)} s wall clock, ${r.cpuSeconds.toFixed(1)} s of CPU time.`,
    '',
  ].join('\n');
}

/**
 * The chart: held-out perplexity (y, forgot) against exact match and against answer loss (x, learned), one line
 * per method through its learning rates.
 */
export function svgFrontier(r: SftResult): string {
  const W = 1120,
    H = 460;
  // Perplexity on a log axis: a method that forgets a lot would otherwise squash the others.
  const ppl = [r.base.perplexity, ...r.runs.map((x) => x.perplexity)].map(Math.log10);
  const yMin = Math.min(...ppl) - 0.05, yMax = Math.max(...ppl) + 0.05;
  const yTicks = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
    .map(Math.log10)
    .filter((v) => v >= yMin && v <= yMax);
  const parts: string[] = [];
  const panel = (
    p: Panel,
    x: (run: { accuracy: number; answerLoss: number }) => number,
    xMin: number,
    xMax: number,
    xLabel: string,
    title: string,
    fmtX: (v: number) => string,
  ) => {
    const a = axes(
      p,
      xMin,
      xMax,
      yMin,
      yMax,
      xLabel,
      'held-out Brown perplexity, log scale (forgot ↑)',
      title,
      ticks(xMin, xMax, 5),
      yTicks,
      fmtX,
      (v) => String(Math.round(10 ** v)),
    );
    parts.push(a.svg);
    const bx = a.sx(x(r.base)), by = a.sy(Math.log10(r.base.perplexity));
    parts.push(`<circle cx="${bx}" cy="${by}" r="6" fill="none" stroke="#333"/>`);
    parts.push(`<text x="${bx + 8}" y="${by + 4}" font-size="11">base</text>`);
    for (const m of Object.keys(COLORS) as SftMethod[]) {
      const runs = r.runs.filter((run) => run.method === m);
      if (runs.length === 0) continue;
      const pts = runs.map((run) => [a.sx(x(run)), a.sy(Math.log10(run.perplexity))] as const);
      parts.push(
        `<polyline points="${pts.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ')}" fill="none" ` +
          `stroke="${COLORS[m]}" stroke-width="1.5"/>`,
      );
      runs.forEach((run, i) => {
        parts.push(`<circle cx="${pts[i][0].toFixed(1)}" cy="${pts[i][1].toFixed(1)}" r="4" fill="${COLORS[m]}"/>`);
        parts.push(
          `<text x="${(pts[i][0] + 6).toFixed(1)}" y="${(pts[i][1] - 6).toFixed(1)}" font-size="9" ` +
            `fill="${COLORS[m]}">${run.learningRate}</text>`,
        );
      });
    }
  };
  const accMax = Math.max(0.1, r.base.accuracy, ...r.runs.map((run) => run.accuracy));
  panel(
    { x: 80, y: 50, w: 420, h: 320 },
    (run) => run.accuracy,
    0,
    accMax,
    'exact-match answers, held-out prompts (learned →)',
    'Exact match vs. forgetting',
    (v) => `${Math.round(v * 100)}%`,
  );
  // Answer loss falls as a method learns: its axis runs from high (left) to low (right).
  const losses = [r.base.answerLoss, ...r.runs.map((run) => run.answerLoss)];
  const lMax = Math.ceil(Math.max(...losses) * 10) / 10,
    lMin = Math.floor(Math.min(...losses) * 10) / 10;
  panel(
    { x: 640, y: 50, w: 420, h: 320 },
    (run) => lMax + lMin - run.answerLoss,
    lMin,
    lMax,
    'answer-token loss, held-out prompts, nats (learned →)',
    'Answer loss vs. forgetting',
    (v) => (lMax + lMin - v).toFixed(2),
  );
  let lx = 80;
  for (const m of Object.keys(COLORS) as SftMethod[]) {
    if (!r.runs.some((run) => run.method === m)) continue;
    const text = SFT_METHOD_LABELS[m];
    parts.push(`<rect x="${lx}" y="${H - 42}" width="14" height="10" fill="${COLORS[m]}"/>`);
    parts.push(`<text x="${lx + 18}" y="${H - 33}" font-size="11">${esc(text)}</text>`);
    lx += 18 + text.length * 6.2 + 20;
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="Helvetica, Arial, sans-serif">\n<rect width="${W}" height="${H}" fill="white"/>\n` +
    `${parts.join('\n')}\n</svg>\n`
  );
}
