// The demo page: pick a model and a data set, fine-tune BERT with the Trainer in
// this tab (live loss and accuracy, progress and ETA, stop and resume from
// checkpoints kept in OPFS), classify and fill-mask typed text, and download
// the fine-tuned folder as a zip. Plain DOM; uPlot draws the plot, fflate zips.
// Built and served by `npm run demo` (scripts/demo.mjs); driven end to end by
// test/browser/demo.test.ts, which reads window.demo.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { zipSync, type Zippable } from 'fflate';
import {
  init, noGrad, tidy, AutoTokenizer, BertForSequenceClassification, BertForMaskedLM, pipeline, setTuningStore, browserTuningStore,
  Trainer, loadMetric, memoryStorage, opfsStorage, latestCheckpoint, DataCollatorWithPadding, tokenizeDataset,
  type BertTokenizer, type FileTarget, type ModelLocation, type AdapterDescription, type TrainerStorage,
} from '../../src/browser.js';
// Not in the browser entry: the SVG of the training curves, which the zip carries.
import { renderCurves } from '../../src/train/index.js';
import { pickedSplits, type Splits } from './data.js';

// ------------------------------------------------------------------ DOM ----

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const button = (id: string) => $<HTMLButtonElement>(id);
const setText = (id: string, text: string) => { $(id).textContent = text; };

/** The page's state, for the end-to-end test (and the curious, in the console). */
interface DemoState {
  phase: 'starting' | 'ready' | 'loading' | 'training' | 'stopped' | 'trained' | 'error' | 'no-webgpu';
  adapter: AdapterDescription | null;
  step: number;
  maxSteps: number;
  /** Every evaluation: step and metrics. */
  evals: { step: number; accuracy: number; loss: number }[];
  /** The validation set's majority-class share. */
  majority: number | null;
  /** The last text classified, with its raw logits. */
  logits: { text: string; maxLength: number; values: number[] } | null;
  error: string | null;
  /** Whether the Trainer can write checkpoints with this model (and so Stop can be resumed). */
  checkpoints: boolean;
}
const demo: DemoState = { phase: 'starting', adapter: null, step: 0, maxSteps: 0, evals: [], majority: null, logits: null, error: null, checkpoints: false };
(window as unknown as { demo: DemoState }).demo = demo;

function showError(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  console.error(err);
  demo.error = message;
  const box = $('error');
  box.textContent = message;
  box.style.display = 'block';
}

function clearError(): void {
  demo.error = null;
  $('error').style.display = 'none';
}

// ------------------------------------------------------------- settings ----

const FIELDS = ['model-name', 'text-column', 'label-column', 'epochs', 'batch-size', 'learning-rate', 'max-length', 'eval-steps', 'save-steps', 'seed'];
const SETTINGS_KEY = 'shadergrad-demo-settings';

function saveSettings(): void {
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(Object.fromEntries(FIELDS.map((f) => [f, input(f).value]))));
  } catch {
    // storage refused: the form starts from its defaults next time
  }
}

function restoreSettings(): void {
  try {
    const saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}') as Record<string, string>;
    for (const f of FIELDS) if (typeof saved[f] === 'string') input(f).value = saved[f];
  } catch {
    // nothing saved
  }
}

function numberField(id: string, what: string, { integer = false, min = -Infinity } = {}): number {
  const raw = input(id).value.trim();
  const value = Number(raw);
  if (raw === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min) {
    throw new Error(`${what} must be ${integer ? 'an integer' : 'a number'}${min > -Infinity ? ` >= ${min}` : ''}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

interface Settings {
  location: ModelLocation;
  modelName: string;
  textColumn: string;
  labelColumn: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  maxLength: number;
  evalSteps: number;
  saveSteps: number;
  seed: number;
}

function readSettings(): Settings {
  const folder = input('model-folder').files;
  const name = input('model-name').value.trim();
  if (!folder?.length && !name) throw new Error('Model: give a Hub id (org/name), a folder URL, or pick a local folder');
  const learningRate = numberField('learning-rate', 'Learning rate', { min: 0 });
  if (learningRate <= 0 || learningRate > 1) throw new Error(`Learning rate must be in (0, 1], got ${learningRate}`);
  return {
    location: folder?.length ? folder : name,
    modelName: folder?.length ? (folder[0].webkitRelativePath.split('/')[0] || 'local folder') : name,
    textColumn: input('text-column').value.trim() || 'text',
    labelColumn: input('label-column').value.trim() || 'label',
    epochs: numberField('epochs', 'Epochs', { min: 0.001 }),
    batchSize: numberField('batch-size', 'Batch size', { integer: true, min: 1 }),
    learningRate,
    maxLength: numberField('max-length', 'Max length', { integer: true, min: 4 }),
    evalSteps: numberField('eval-steps', 'Evaluate every', { integer: true, min: 0 }),
    saveSteps: numberField('save-steps', 'Checkpoint every', { integer: true, min: 1 }),
    seed: numberField('seed', 'Seed', { integer: true, min: 0 }),
  };
}

// ----------------------------------------------------------------- plot ----

const plotData: [number[], (number | null)[], (number | null)[]] = [[], [], []];
let plot: uPlot | null = null;

function makePlot(): void {
  const el = $('plot');
  plot = new uPlot({
    width: Math.max(320, el.clientWidth || 980),
    height: 250,
    scales: { x: { time: false }, loss: { auto: true }, acc: { range: [0, 1] } },
    series: [
      { label: 'step' },
      { label: 'training loss', scale: 'loss', stroke: '#2f6fde', width: 2, spanGaps: true },
      { label: 'evaluation accuracy', scale: 'acc', stroke: '#d9480f', width: 2, spanGaps: true, points: { show: true, size: 7 } },
    ],
    axes: [
      { label: 'step' },
      { scale: 'loss', label: 'loss' },
      { scale: 'acc', side: 1, label: 'accuracy', grid: { show: false } },
    ],
  }, plotData, el);
}

function plotPoint(step: number, loss?: number, accuracy?: number): void {
  const [xs, losses, accs] = plotData;
  let i = xs.lastIndexOf(step);
  if (i < 0) {
    i = xs.length;
    while (i > 0 && xs[i - 1] > step) i--;
    xs.splice(i, 0, step);
    losses.splice(i, 0, null);
    accs.splice(i, 0, null);
  }
  if (loss !== undefined) losses[i] = loss;
  if (accuracy !== undefined) accs[i] = accuracy;
  plot?.setData(plotData);
}

/** Redraws from a Trainer's log history (after resuming, it holds the run so far). */
function replot(history: readonly Record<string, number>[]): void {
  for (const a of plotData) a.length = 0;
  demo.evals = [];
  for (const e of history) {
    if ('loss' in e) plotPoint(e.step, e.loss);
    if ('eval_accuracy' in e) {
      plotPoint(e.step, undefined, e.eval_accuracy);
      demo.evals.push({ step: e.step, accuracy: e.eval_accuracy, loss: e.eval_loss });
    }
  }
  plot?.setData(plotData);
}

// -------------------------------------------------------------- session ----

/** What one run of Train holds: the model, its tokenizer, the data, the Trainer. */
interface Session {
  key: string;
  settings: Settings;
  tokenizer: BertTokenizer;
  model: BertForSequenceClassification;
  splits: Splits;
  trainer: Trainer;
}

const OUTPUT_DIR = 'shadergrad-demo/run';
let session: Session | null = null;
let stopRequested = false;
let storage: TrainerStorage = memoryStorage();
let busy = false;

function canUseOpfs(): boolean {
  return typeof (navigator.storage as { getDirectory?: unknown } | undefined)?.getDirectory === 'function';
}

function chooseStorage(): TrainerStorage {
  return input('use-opfs').checked && canUseOpfs() ? opfsStorage() : memoryStorage();
}

function setButtons(): void {
  const training = demo.phase === 'training' || demo.phase === 'loading';
  button('train').disabled = training || demo.phase === 'no-webgpu';
  button('stop').disabled = demo.phase !== 'training';
  button('resume').disabled = training || demo.phase === 'no-webgpu' || !resumable;
  button('classify').disabled = training || !session;
  button('download').disabled = training || !session;
  button('fill').disabled = training || demo.phase === 'no-webgpu';
}

/** Whether a checkpoint is there to resume from. */
let resumable = false;

async function refreshResumable(): Promise<void> {
  try {
    const latest = await latestCheckpoint(OUTPUT_DIR, storage);
    resumable = latest !== null;
    if (latest && !session) setText('train-status', `A checkpoint of an earlier run is kept in this browser (${latest}): pick the same model and data, then Resume.`);
  } catch {
    resumable = false;
  }
  setButtons();
}

function filesKey(s: Settings, train: File, valid: File | null): string {
  const loc = typeof s.location === 'string' ? s.location : Array.from(s.location as FileList, (f) => `${f.webkitRelativePath}:${f.size}`).join('|');
  return JSON.stringify([loc, train.name, train.size, train.lastModified, valid?.name, valid?.size, s.textColumn, s.labelColumn, s.epochs, s.batchSize,
    s.learningRate, s.maxLength, s.evalSteps, s.saveSteps, s.seed]);
}

async function buildSession(settings: Settings): Promise<Session> {
  const trainFile = input('train-file').files?.[0];
  const validFile = input('valid-file').files?.[0] ?? null;
  if (!trainFile) throw new Error('Data: pick a training file (CSV, JSON lines or Parquet)');
  const key = filesKey(settings, trainFile, validFile);
  if (session && session.key === key) return session;

  setText('data-status', `Reading ${trainFile.name}${validFile ? ` and ${validFile.name}` : ''}…`);
  const splits = await pickedSplits(trainFile, validFile, settings.textColumn, settings.labelColumn);
  const counts = new Map<number, number>();
  for (const row of splits.validation) counts.set(row[settings.labelColumn] as number, (counts.get(row[settings.labelColumn] as number) ?? 0) + 1);
  demo.majority = Math.max(...counts.values()) / splits.validation.length;
  setText('data-status', `${splits.train.length} training rows, ${splits.validation.length} for evaluation (${splits.validationFrom}); ` +
    `${splits.labelNames.length} classes: ${splits.labelNames.join(', ')}. Majority class: ${(100 * demo.majority).toFixed(1)}% of the evaluation rows.`);

  setText('model-status', `Loading ${settings.modelName}…`);
  const tokenizer = await AutoTokenizer.fromPretrained(settings.location);
  const id2label = Object.fromEntries(splits.labelNames.map((n, i) => [String(i), n]));
  const loadLog: string[] = [];
  const model = await BertForSequenceClassification.fromPretrained(settings.location, {
    numLabels: splits.labelNames.length, id2label, log: (line) => loadLog.push(line),
  });
  const cfg = model.config;
  if (settings.maxLength > cfg.max_position_embeddings) {
    throw new Error(`Max length ${settings.maxLength} is over the model's max_position_embeddings (${cfg.max_position_embeddings}) in config.json`);
  }
  setText('model-status', `${settings.modelName}: ${cfg.num_hidden_layers} layers, hidden ${cfg.hidden_size}, vocabulary ${cfg.vocab_size}, ` +
    `${countParameters(model).toLocaleString()} parameters.${loadLog.length ? `\n${loadLog.join('\n')}` : ''}`);

  const train = tokenizeDataset(splits.train, tokenizer, { maxLength: settings.maxLength });
  const validation = tokenizeDataset(splits.validation, tokenizer, { maxLength: settings.maxLength });
  const stepsPerEpoch = Math.ceil(train.length / settings.batchSize);
  const maxSteps = Math.ceil(settings.epochs * stepsPerEpoch);
  // Checkpoints need the model to hand its files to a storage that is not a disk (pretrainedFiles).
  demo.checkpoints = typeof (model as { pretrainedFiles?: unknown }).pretrainedFiles === 'function';
  storage = chooseStorage();
  const trainer = new Trainer({
    model,
    tokenizer,
    args: {
      outputDir: OUTPUT_DIR,
      numTrainEpochs: settings.epochs,
      perDeviceTrainBatchSize: settings.batchSize,
      perDeviceEvalBatchSize: Math.max(settings.batchSize, 32),
      learningRate: settings.learningRate,
      warmupRatio: 0.1,
      loggingSteps: Math.max(1, Math.floor(maxSteps / 60)),
      evalStrategy: settings.evalSteps > 0 ? 'steps' : 'epoch',
      evalSteps: settings.evalSteps > 0 ? settings.evalSteps : 500,
      saveStrategy: demo.checkpoints ? 'steps' : 'no',
      saveSteps: settings.saveSteps,
      saveTotalLimit: 2,
      seed: settings.seed,
      disableTqdm: true,
    },
    trainDataset: train,
    evalDataset: validation,
    dataCollator: new DataCollatorWithPadding(tokenizer, { maxLength: settings.maxLength }),
    computeMetrics: ['accuracy', loadMetric('f1', { average: 'macro' })],
    modelCard: { baseModel: typeof settings.location === 'string' ? settings.location : null, labelNames: splits.labelNames },
    progressStream: { write: (s: string) => { if (s.trim()) setText('train-status', s.trim()); return true; } },
    storage,
    callbacks: [{
      onTrainBegin: ({ state }) => {
        replot(state.logHistory as unknown as Record<string, number>[]);
        progressStart = { time: performance.now(), step: state.globalStep };
      },
      onStepEnd: ({ state, control }) => {
        showProgress(state.globalStep, state.maxSteps);
        if (stopRequested) control.shouldTrainingStop = true;
      },
      onLog: (_ctx, logs) => {
        if ('loss' in logs) plotPoint(logs.step, logs.loss);
        if ('eval_accuracy' in logs) {
          plotPoint(logs.step, undefined, logs.eval_accuracy);
          demo.evals.push({ step: logs.step, accuracy: logs.eval_accuracy, loss: logs.eval_loss });
          setText('train-status', `Evaluation at step ${logs.step}: accuracy ${logs.eval_accuracy.toFixed(3)}, loss ${logs.eval_loss.toFixed(4)}` +
            (demo.majority !== null ? ` (majority class ${demo.majority.toFixed(3)})` : ''));
        }
      },
      onSave: () => { resumable = true; },
    }],
  });
  session = { key, settings, tokenizer, model, splits, trainer };
  return session;
}

function countParameters(model: BertForSequenceClassification): number {
  let n = 0;
  for (const p of model.namedParameters().values()) n += p.shape.reduce((a, b) => a * b, 1);
  return n;
}

let progressStart = { time: 0, step: 0 };

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

let lastDraw = 0;
function showProgress(step: number, maxSteps: number): void {
  demo.step = step;
  demo.maxSteps = maxSteps;
  const now = performance.now();
  if (now - lastDraw < 100 && step < maxSteps) return;
  lastDraw = now;
  const bar = $<HTMLProgressElement>('progress');
  bar.max = maxSteps;
  bar.value = step;
  const done = step - progressStart.step;
  const elapsed = (now - progressStart.time) / 1000;
  const eta = done > 0 ? (elapsed / done) * (maxSteps - step) : NaN;
  setText('progress-text', `Step ${step} / ${maxSteps} (${((100 * step) / maxSteps).toFixed(0)}%) · ${formatDuration(elapsed)} elapsed · ETA ${formatDuration(eta)}` +
    (done > 0 ? ` · ${(done / elapsed).toFixed(2)} steps/s` : ''));
}

async function run(resume: boolean): Promise<void> {
  if (busy) return;
  busy = true;
  clearError();
  stopRequested = false;
  demo.phase = 'loading';
  setButtons();
  try {
    const settings = readSettings();
    saveSettings();
    const s = await buildSession(settings);
    if (!resume) {
      // A fresh run: the old run's checkpoints would be taken for this one's.
      await s.trainer.storage.remove(OUTPUT_DIR);
      resumable = false;
    }
    demo.phase = 'training';
    setButtons();
    setText('progress-text', resume ? 'Resuming from the latest checkpoint…' : 'Picking the matmul kernels for this adapter, then training…');
    const out = await s.trainer.train(resume ? { resumeFromCheckpoint: true } : undefined);
    showProgress(out.globalStep, s.trainer.state.maxSteps);
    const last = demo.evals.at(-1);
    const stopped = out.globalStep < s.trainer.state.maxSteps;
    demo.phase = stopped ? 'stopped' : 'trained';
    setText('train-status', `${stopped ? 'Stopped' : 'Trained'} at step ${out.globalStep}: mean training loss ${out.trainingLoss.toFixed(4)}` +
      (last ? `, evaluation accuracy ${last.accuracy.toFixed(3)} at step ${last.step}` : '') +
      (demo.majority !== null ? ` (majority class ${demo.majority.toFixed(3)})` : '') +
      (stopped ? (demo.checkpoints ? '. Resume continues from the latest checkpoint.' : '. This model cannot write checkpoints here, so Resume is off.') : '.'));
  } catch (e) {
    demo.phase = 'error';
    showError(e);
  } finally {
    busy = false;
    await refreshResumable();
  }
}

// ------------------------------------------------------------ inference ----

async function logitsOf(s: Session, text: string): Promise<number[]> {
  const maxLength = s.settings.maxLength;
  s.model.eval();
  const batch = s.tokenizer([text], { padding: true, truncation: true, maxLength });
  const logits = noGrad(() => tidy(() => s.model.forward(batch).logits));
  const values = await logits.toArray();
  logits.dispose();
  return Array.from(values);
}

async function classify(): Promise<void> {
  clearError();
  const s = session;
  if (!s) return;
  try {
    const text = input('text').value;
    if (!text.trim()) throw new Error('Classify: type a text first');
    const classifier = pipeline('text-classification', { model: s.model, tokenizer: s.tokenizer, maxLength: s.settings.maxLength });
    const results = await classifier(text, { topK: null });
    const values = await logitsOf(s, text);
    demo.logits = { text, maxLength: s.settings.maxLength, values };
    const table = document.createElement('table');
    table.className = 'results';
    for (const r of results) {
      const tr = table.insertRow();
      tr.insertCell().textContent = r.label;
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.round(160 * r.score)}px`;
      tr.insertCell().append(bar);
      tr.insertCell().textContent = r.score.toFixed(3);
    }
    $('classify-out').replaceChildren(table);
    const out = $('logits');
    out.textContent = `logits: [${values.map((v) => v.toFixed(5)).join(', ')}]`;
    out.dataset.logits = JSON.stringify(values);
  } catch (e) {
    showError(e);
  }
}

const maskedModels = new Map<string, Promise<{ model: BertForMaskedLM; tokenizer: BertTokenizer }>>();

async function fillMask(): Promise<void> {
  clearError();
  button('fill').disabled = true;
  try {
    const settings = readSettings();
    const key = typeof settings.location === 'string' ? settings.location : `folder:${settings.modelName}`;
    let parts = maskedModels.get(key);
    if (!parts) {
      setText('fill-out', `Loading ${settings.modelName} with its masked-LM head…`);
      parts = (async () => ({
        model: await BertForMaskedLM.fromPretrained(settings.location, { log: null }),
        tokenizer: await AutoTokenizer.fromPretrained(settings.location),
      }))();
      maskedModels.set(key, parts);
      parts.catch(() => maskedModels.delete(key));
    }
    const { model, tokenizer } = await parts;
    const fill = pipeline('fill-mask', { model, tokenizer });
    const results = await fill(input('mask-text').value, { topK: 5 });
    const table = document.createElement('table');
    table.className = 'results';
    for (const r of results) {
      const tr = table.insertRow();
      tr.insertCell().textContent = r.token_str;
      tr.insertCell().textContent = r.score.toFixed(3);
      tr.insertCell().textContent = r.sequence;
    }
    $('fill-out').replaceChildren(table);
  } catch (e) {
    showError(e);
  } finally {
    setButtons();
  }
}

// ------------------------------------------------------------- download ----

async function download(): Promise<void> {
  clearError();
  const s = session;
  if (!s) return;
  try {
    setText('download-status', 'Reading the weights back from the GPU…');
    const files: Zippable = {};
    const encoder = new TextEncoder();
    const target: FileTarget = {
      description: 'the zip being built',
      write: async (file, data) => {
        const bytes = typeof data === 'string' ? encoder.encode(data) : data;
        // Weights barely compress; store them as they are.
        files[file] = file.endsWith('.safetensors') ? [bytes, { level: 0 }] : bytes;
      },
    };
    await s.model.savePretrained(target);
    await s.tokenizer.savePretrained(target);
    files['README.md'] = encoder.encode(s.trainer.modelCard());
    if (s.trainer.state.logHistory.length) files['training_curves.svg'] = encoder.encode(renderCurves(s.trainer.state.logHistory));
    const zip = zipSync(files, { level: 6 });
    const url = URL.createObjectURL(new Blob([zip as BlobPart], { type: 'application/zip' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'shadergrad-finetuned.zip';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    setText('download-status', `shadergrad-finetuned.zip: ${Object.keys(files).sort().join(', ')} (${(zip.length / 1e6).toFixed(1)} MB)`);
  } catch (e) {
    showError(e);
  }
}

// ---------------------------------------------------------------- start ----

async function start(): Promise<void> {
  // The matmul variant measured for this adapter is kept in localStorage: a reloaded tab neither
  // measures again nor picks another, so Resume continues exactly where the run stopped.
  setTuningStore(browserTuningStore());
  restoreSettings();
  makePlot();
  if (!canUseOpfs()) {
    input('use-opfs').checked = false;
    input('use-opfs').disabled = true;
  }
  button('train').addEventListener('click', () => void run(false));
  button('resume').addEventListener('click', () => void run(true));
  button('stop').addEventListener('click', () => {
    stopRequested = true;
    button('stop').disabled = true;
    setText('progress-text', `${$('progress-text').textContent} · stopping after this step…`);
  });
  button('classify').addEventListener('click', () => void classify());
  input('text').addEventListener('keydown', (e) => { if (e.key === 'Enter' && !button('classify').disabled) void classify(); });
  button('fill').addEventListener('click', () => void fillMask());
  button('download').addEventListener('click', () => void download());
  input('use-opfs').addEventListener('change', () => { storage = chooseStorage(); void refreshResumable(); });
  try {
    const runtime = await init();
    demo.adapter = runtime.adapter;
    const a = runtime.adapter;
    setText('adapter', `WebGPU adapter: ${a.description || a.device || a.name}${a.vendor ? ` (vendor ${a.vendor}${a.architecture ? `, ${a.architecture}` : ''})` : ''}`);
    demo.phase = 'ready';
  } catch (e) {
    demo.phase = 'no-webgpu';
    $('adapter').classList.add('missing');
    setText('adapter', `No WebGPU: ${e instanceof Error ? e.message : String(e)}`);
  }
  storage = chooseStorage();
  await refreshResumable();
  setButtons();
}

void start();
