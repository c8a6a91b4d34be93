// --help, grouped as flags.ts groups the flags, and the usage line, both naming
// the program as it was invoked (npx shadergrad-train, node dist/train.js, …).

import { existsSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLAGS, GROUP_TITLES, TRAINING_DEFAULTS, type Flag, type Group } from './flags.js';

/** The package's root folder: src/cli/ and dist/cli/ both sit two levels below it. */
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** True in a clone of the repository (scripts/ is there), false in an installed package. */
export function inRepository(): boolean {
  return existsSync(join(PACKAGE_ROOT, 'scripts', 'make-tiny-model.ts'));
}

/** How the user started us, for usage lines: `npx shadergrad-train`, `node dist/train.js`, `npx tsx src/train.ts`. */
export function programName(script = process.argv[1] ?? 'dist/train.js'): string {
  if (basename(script) === 'shadergrad-train') return script.includes(`node_modules${sep}.bin${sep}`) ? 'npx shadergrad-train' : 'shadergrad-train';
  const shown = relative(process.cwd(), script) || script;
  return script.endsWith('.ts') ? `npx tsx ${shown}` : `node ${shown}`;
}

export function usageHint(): string {
  return `usage: ${programName()} [--model ID|DIR] [--dataset ID|DIR|FILES] [--num-train-epochs N] ... (--help for all flags)`;
}

function defaultOf(flag: Flag): unknown {
  if (flag.default !== undefined) return flag.default;
  if (!flag.field || flag.kind === 'boolean' || flag.help.includes('default:')) return undefined;
  return (TRAINING_DEFAULTS as unknown as Record<string, unknown>)[flag.field] ?? undefined;
}

const shownValue = (v: unknown) => (typeof v === 'number' && v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v));
const left = (flag: Flag) => `${[flag.name, ...(flag.aliases ?? [])].map((n) => `--${n}`).join(', ')}${flag.arg ? ` <${flag.arg}>` : ''}`;
const WIDTH = Math.max(...FLAGS.map((f) => left(f).length));

function flagLine(flag: Flag): string {
  const def = defaultOf(flag);
  return `  ${left(flag).padEnd(WIDTH)}  ${flag.help}${def === undefined ? '' : ` (default: ${shownValue(def)})`}`;
}

export function helpText(): string {
  const prog = programName();
  const groups = Object.entries(GROUP_TITLES).flatMap(([group, title]) => [
    `${title}:`,
    ...FLAGS.filter((f) => f.group === (group as Group)).map(flagLine),
    '',
  ]);
  const example = inRepository()
    ? `npm run tiny-model && ${prog} --model weights/tiny-bert-cased --dataset ../shared/data/twitter-financial-news-topic`
    : `${prog} --model <model folder> --dataset <data folder>`;
  return [
    'Fine-tunes BERT for text classification on WebGPU, then classifies --predict.',
    'Metrics and results go to stdout as JSON lines; progress and messages to stderr.',
    '',
    `usage: ${prog} [flags]`,
    '',
    'Every flag also takes its snake_case spelling (--num_train_epochs as --num-train-epochs), as HfArgumentParser does;',
    'booleans take --flag, --flag true|false or --no-flag.',
    '',
    ...groups,
    'Example, offline with local folders, in under a minute on a CPU:',
    `  ${example} \\`,
    '    --max-train-samples 256 --max-eval-samples 64 --num-train-epochs 2 --output-dir weights/quickstart',
  ].join('\n');
}
