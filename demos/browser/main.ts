// `npm run demo:browser`: builds and serves the browser demo on http://127.0.0.1:8080/.
import { parseArgs } from 'node:util';
import { startBrowserDemo } from './server';

const HELP = `npm run demo:browser -- [options]

Serves a page that fine-tunes the digits demo's pretrained ViT on rotated digits with OFT in
your browser (backend, block size and epochs to choose; live chart of the loss and of task A
and task B accuracy), then merges the adapters and downloads the merged model. The first run
pretrains the model in Node (about a minute; cached in .cache/digits-demo, shared with npm run demo).

Options:
  --port N             port on 127.0.0.1 (default 8080)
  --pretrain-epochs N  pretraining epochs on task A (default 15)
  --seed N             seed of the split and the pretraining (default 1234)
  --help               this text
`;

const { values } = parseArgs({ options: {
  port: { type: 'string' }, 'pretrain-epochs': { type: 'string' }, seed: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} });
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const int = (flag: string, v: string | undefined, min: number) => {
  if (v == null) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${flag} must be an integer ≥ ${min}, got '${v}'`);
    process.exit(1);
  }
  return n;
};
const demo = await startBrowserDemo({ port: int('port', values.port, 0),
  pretrainEpochs: int('pretrain-epochs', values['pretrain-epochs'], 1), seed: int('seed', values.seed, 0) });
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
console.log(`pretrained ViT: task A ${pct(demo.pretrain.accA)}, task B ${pct(demo.pretrain.accB)}`);
console.log(`open ${demo.origin}/ in a browser (Ctrl-C stops the server)`);
