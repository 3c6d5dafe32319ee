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
    '| Method | lr | Trainable params | Exact match (learned) | Held-out ppl (forgot) | s / epoch | Peak tensor MB |',
    '|---|---:|---:|---:|---:|---:|---:|',
    `| *Base model, before SFT* | – | – | ${pct(r.base.accuracy)} | ${r.base.perplexity.toFixed(2)} | – | – |`,
  ];
  for (const run of r.runs) {
    lines.push(`| ${SFT_METHOD_LABELS[run.method]} | ${run.learningRate} | ${run.trainableParams.toLocaleString('en-US')} / ` +
      `${run.totalParams.toLocaleString('en-US')} | ${pct(run.accuracy)} | ${run.perplexity.toFixed(2)} | ` +
      `${run.secondsPerEpoch.toFixed(2)} | ${(run.peakBytes / 2 ** 20).toFixed(1)} |`);
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
    if (!b || run.accuracy > b.accuracy || (run.accuracy === b.accuracy && run.perplexity < b.perplexity)) best.set(run.method, run);
  }
  return [...best.values()];
}

/** One line per OFT run: does the merged model generate the same tokens? */
export function mergeText(r: SftResult): string {
  return r.runs.filter((run) => run.merged).map((run) => `mergeAndUnload(OFT, lr ${run.learningRate}): ` +
    `${run.merged!.identical}/${run.merged!.of} held-out completions token-identical ` +
    `(${run.merged!.sameTokens ? 'all the same' : 'NOT all the same'}); layer classes after: ${run.merged!.layerClasses.join(', ')}`).join('\n');
}

/** The whole Markdown report. */
export function markdownReport(r: SftResult): string {
  const s = r.settings, g = s.gpt;
  return [
    '# SFT of a small causal LM: what each method learned and forgot (tfjs-oft SFT demo)',
    '',
    `Backend \`${r.backend}\`${r.quick ? ' (--quick)' : ''}. Character GPT: ${g.numLayers} blocks, width ${g.hiddenSize}, ` +
      `${g.numHeads} heads; pretrained ${s.pretrainEpochs} epochs on Brown windows of ${s.pretrainTokens} characters ` +
      `(${r.pretrain.cached ? 'loaded from the cache' : `${r.pretrain.seconds.toFixed(1)} s`}). SFT: ${s.sftTrainExamples} ` +
      `examples, ${s.epochs} epochs, batch ${s.batchSize}, Adam, loss on answer tokens only; ${s.sftTestExamples} held-out ` +
      `prompts on unseen words; seed ${s.seed}.`,
    '',
    markdownTable(r),
    '',
    'Exact match: greedy answer equals the expected one (and stops). Held-out ppl: per-character perplexity on held-out ' +
      'Brown files (higher after SFT = forgot more). Peak tensor MB: peak of `tf.memory().numBytes` during two training ' +
      'steps above what was allocated before.',
    '',
    ...[...new Map(r.runs.map((run) => [run.method, run.setup])).entries()].map(([m, setup]) => `- **${SFT_METHOD_LABELS[m]}**: ${setup}.`),
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

/** The chart: exact match (x) against held-out perplexity (y), one polyline per method over its learning rates. */
export function svgFrontier(r: SftResult): string {
  const W = 620, H = 460;
  const p: Panel = { x: 80, y: 50, w: 460, h: 320 };
  const ppl = [r.base.perplexity, ...r.runs.map((x) => x.perplexity)];
  const yMin = Math.floor(Math.min(...ppl) * 10) / 10, yMax = Math.ceil(Math.max(...ppl) * 1.02 * 10) / 10;
  const xMax = Math.max(0.1, ...r.runs.map((x) => x.accuracy), r.base.accuracy);
  const a = axes(p, 0, xMax, yMin, yMax, 'exact-match answers on held-out prompts (learned)',
    'held-out Brown perplexity (forgot ↑)', 'Learned vs. forgotten, three learning rates per method',
    ticks(0, xMax, 5), ticks(yMin, yMax, 5), (v) => `${Math.round(v * 100)}%`, (v) => v.toFixed(2));
  const parts = [a.svg];
  parts.push(`<circle cx="${a.sx(r.base.accuracy)}" cy="${a.sy(r.base.perplexity)}" r="6" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${a.sx(r.base.accuracy) + 8}" y="${a.sy(r.base.perplexity) + 4}" font-size="11">base</text>`);
  let lx = p.x;
  for (const m of Object.keys(COLORS) as SftMethod[]) {
    const runs = r.runs.filter((x) => x.method === m);
    if (runs.length === 0) continue;
    const pts = runs.map((x) => [a.sx(x.accuracy), a.sy(x.perplexity)] as const);
    parts.push(`<polyline points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}" fill="none" ` +
      `stroke="${COLORS[m]}" stroke-width="1.5"/>`);
    runs.forEach((x, i) => {
      parts.push(`<circle cx="${pts[i][0].toFixed(1)}" cy="${pts[i][1].toFixed(1)}" r="4" fill="${COLORS[m]}"/>`);
      parts.push(`<text x="${(pts[i][0] + 6).toFixed(1)}" y="${(pts[i][1] - 6).toFixed(1)}" font-size="9" ` +
        `fill="${COLORS[m]}">${x.learningRate}</text>`);
    });
    const text = SFT_METHOD_LABELS[m];
    parts.push(`<rect x="${lx}" y="${H - 42}" width="14" height="10" fill="${COLORS[m]}"/>`);
    parts.push(`<text x="${lx + 18}" y="${H - 33}" font-size="11">${esc(text)}</text>`);
    lx += 18 + text.length * 6.2 + 20;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="Helvetica, Arial, sans-serif">\n<rect width="${W}" height="${H}" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
