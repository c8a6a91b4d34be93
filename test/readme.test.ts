// The README's snippets, run as printed: each shell command of its ```sh blocks
// (in a scratch project folder beside a link to ../shared, `node dist/train.js`
// being src/train.ts through tsx, `npm run tiny-model` its script with --out
// pointing there) and each ```ts block (importing 'shadergrad' as src/index.ts).
// A command the test cannot run here must be listed in NOT_RUN with the reason.
// Skipped, and counted so, when ../shared is absent.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from './train/synthetic.js';
import { CACHE_ENV, storeMatmulChoice } from './faults/cli.js';

const ROOT = resolve('.');
const SHARED = resolve('../shared');
const TSX = import.meta.resolve('tsx');

/** Commands the README shows that this test does not run, and why. */
const NOT_RUN: Record<string, string> = {
  'npm install': 'installs the dependencies (done before any test)',
  'npm run build': 'builds dist/ (test/package/pack.test.ts builds and runs it)',
  'node dist/train.js': 'the full job: BERT-base from the Hub, about an hour on a CPU',
  'npm test': 'this suite',
  'npm run weights -- google-bert/bert-base-cased': 'needs the Hub',
  'bash scripts/install-lavapipe.sh': 'needs root',
};

/** The commands of one ```lang block each: continuation lines joined, comments and `&&` chains split. */
function snippets(lang: string): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]);
}

function commands(): string[] {
  return snippets('sh').flatMap((block) => block.replace(/\\\n\s*/g, '').split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '')
    .flatMap((line) => line.split(/\s+&&\s+/));
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let project = '';
let env: Record<string, string> = {};

function run(command: string, args: string[], cwd: string, extraEnv: Record<string, string> = {}): Run {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env, ...extraEnv } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs one README command the way it runs for a user of a clone; throws for one it does not know. */
function runCommand(line: string): Run | null {
  if (NOT_RUN[line]) return null;
  const words = line.split(/\s+/);
  if (words[0] === 'npm' && words[1] === 'run' && words[2] === 'tiny-model') {
    return run(process.execPath, ['--import', TSX, 'scripts/make-tiny-model.ts', ...words.slice(4), '--out', join(project, 'weights/tiny-bert-cased')], ROOT);
  }
  if (words[0] === 'node' && words[1] === 'dist/train.js') return run(process.execPath, ['--import', TSX, join(ROOT, 'src/train.ts'), ...words.slice(2)], project);
  if (words[0] === 'node' && words[1].startsWith('scripts/')) return run(process.execPath, words.slice(1), ROOT);
  if (words[0] === 'npm' && words[1] === 'run' && words[2] === 'bench') return null;
  throw new Error(`README command not known to test/readme.test.ts: '${line}' (run it here, or list it in NOT_RUN with why)`);
}

const haveShared = existsSync(join(SHARED, 'data/twitter-financial-news-topic')) && existsSync(join(SHARED, 'models/bert-base-cased/vocab.txt'));
if (!haveShared) console.log(`test/readme.test.ts: skipped, ${SHARED} with the data set and bert-base-cased's tokenizer is absent`);
const maybe = haveShared ? test : test.skip;

test.before(() => {
  if (!haveShared) return;
  const root = tempDir('readme');
  project = join(root, 'project');
  mkdirSync(project);
  symlinkSync(SHARED, join(root, 'shared'));
  // 'shadergrad' is this checkout's source, as the installed package's dist is its build.
  writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { shadergrad: [join(ROOT, 'src/index.ts')] } } }));
  storeMatmulChoice();
  env = CACHE_ENV;
});

// The quick start's speed (under a minute here) is the bench's to measure, not a test's: the machine may be busy.
maybe('README shell snippets: the tiny model, the quick start (visible progress from the first step, JSON lines), --help', () => {
  const ran: string[] = [];
  for (const line of commands()) {
    const r = runCommand(line);
    if (!r) continue;
    ran.push(line);
    assert.is(r.status, 0, `${line}\n${r.stderr.slice(-3000)}`);
    if (!line.includes('--max-train-samples')) continue;
    assert.match(r.stderr, /step 1\/\d+ \| loss/, 'progress from the first step');
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.some((l) => 'eval_accuracy' in l), 'evaluation results');
    assert.ok('prediction' in lines.at(-1)!, 'the prediction last');
    assert.ok(existsSync(join(project, 'weights/quickstart/all_results.json')));
  }
  assert.ok(ran.some((l) => l.includes('--max-train-samples')), `the quick start ran (${ran.join('; ')})`);
});

maybe('README TypeScript snippets run as printed', () => {
  for (const [i, code] of snippets('ts').entries()) {
    const file = join(project, `snippet-${i}.ts`);
    writeFileSync(file, code);
    const r = run(process.execPath, ['--import', TSX, file], project, { TSX_TSCONFIG_PATH: join(project, 'tsconfig.json') });
    assert.is(r.status, 0, `snippet ${i}:\n${code}\n${r.stderr.slice(-3000)}`);
    assert.ok(r.stdout.trim().length > 0, `snippet ${i} prints its result`);
  }
});

test.run();
