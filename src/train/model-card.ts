// The model card (outputDir/README.md) rendered with @huggingface/jinja from
// templates/model-card.md.jinja (embedded at build time by
// scripts/embed-templates.mjs, so no file is read). What goes in, and how the log history
// becomes the results table, follows transformers/modelcard.py
// (parse_log_history, extract_hyperparameters_from_trainer, _maybe_round).

import { Template } from '@huggingface/jinja';
import type { TrainingArguments } from './arguments.js';
import type { LogEntry } from './checkpoint-files.js';
import { trainerPlatform } from './platform.js';
import { ENGINE_VERSION, TEMPLATES } from './templates.generated.js';

export interface ModelCardOptions {
  /** The card's title; defaults to the output folder's name. */
  modelName?: string;
  /** Hub id or folder of the model fine-tuned from (transformers' finetuned_from): base_model when a Hub id, a folder's name in the text only. */
  baseModel?: string | null;
  /** Hub id of the data set (its `datasets:` tag), e.g. zeroshot/twitter-financial-news-topic. */
  datasetId?: string | null;
  /** Human name of the data set; defaults to datasetId. */
  datasetName?: string | null;
  license?: string | null;
  tags?: string[];
  /** Label names by class id. */
  labelNames?: string[];
}

export interface ModelCardInput extends ModelCardOptions {
  args: TrainingArguments;
  logHistory: LogEntry[];
  /** Adapter description, e.g. 'llvmpipe (LLVM 19.1.7, 256 bits)'. */
  adapter: string;
  /** The optimizer's name in the hyperparameters list (default 'AdamW'). */
  optimizerName?: string;
  /** File name of the training curves picture beside the card, or null. */
  curves?: string | null;
}

/** Tags every card carries: transformers' own, and the task's (the Hub's pipeline_tag). */
const DEFAULT_TAGS = ['generated_from_trainer', 'text-classification'];

/** transformers' _maybe_round: floats with more than 4 decimals shown with 4. */
export function maybeRound(v: number | string): string {
  if (typeof v === 'string') return v;
  const s = pythonFloat(v);
  const decimals = s.split('.')[1];
  return decimals !== undefined && !s.includes('e') && decimals.length > 4 ? v.toFixed(4) : s;
}

/** A float as Python's repr prints it (5e-05, 2.0, 0.001), so the card reads like transformers'. */
export function pythonFloat(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e16)) return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

/** 'eval_f1_macro' -> 'F1 Macro' (transformers capitalises each part). */
function displayName(key: string): string {
  return key.split('_').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join(' ');
}

const EVAL_BOOKKEEPING = new Set(['eval_runtime', 'eval_samples_per_second', 'eval_steps_per_second', 'epoch', 'step', 'total_flos']);

/**
 * The results table (one row per evaluation, with the last training loss
 * logged before it) and the final evaluation's results, as
 * transformers' parse_log_history.
 */
export function parseLogHistory(logHistory: LogEntry[]): { header: string[]; rows: string[][]; evalResults: { key: string; name: string; value: number }[] } {
  const header: string[] = [];
  const lines: Map<string, string>[] = [];
  let trainingLoss: string = 'No log';
  for (const entry of logHistory) {
    if ('train_runtime' in entry) break;
    if ('loss' in entry) trainingLoss = maybeRound(entry.loss);
    if (!('eval_loss' in entry)) continue;
    const line = new Map<string, string>([
      ['Training Loss', trainingLoss],
      ['Epoch', maybeRound(entry.epoch)],
      ['Step', String(entry.step)],
    ]);
    for (const [k, v] of Object.entries(entry)) {
      if (EVAL_BOOKKEEPING.has(k)) continue;
      line.set(k === 'eval_loss' ? 'Validation Loss' : displayName(k.replace(/^eval_/, '')), maybeRound(v));
    }
    for (const name of line.keys()) if (!header.includes(name)) header.push(name);
    lines.push(line);
  }
  const rows = lines.map((line) => header.map((name) => line.get(name) ?? ''));
  const last = [...logHistory].reverse().find((e) => 'eval_loss' in e);
  const evalResults = last
    ? Object.entries(last)
      .filter(([k]) => !EVAL_BOOKKEEPING.has(k))
      .map(([k, value]) => ({ key: k.replace(/^eval_/, ''), name: displayName(k.replace(/^eval_/, '')), value }))
    : [];
  return { header, rows, evalResults };
}

/** transformers' extract_hyperparameters_from_trainer, for one device. */
export function hyperparameters(args: TrainingArguments, optimizerName: string): { name: string; value: string }[] {
  const h: [string, string][] = [
    ['learning_rate', pythonFloat(args.learningRate)],
    ['train_batch_size', String(args.perDeviceTrainBatchSize)],
    ['eval_batch_size', String(args.perDeviceEvalBatchSize)],
    ['seed', String(args.seed)],
  ];
  if (args.gradientAccumulationSteps > 1) {
    h.push(['gradient_accumulation_steps', String(args.gradientAccumulationSteps)]);
    h.push(['total_train_batch_size', String(args.totalTrainBatchSize)]);
  }
  h.push(['optimizer', `Use ${optimizerName} with betas=(${args.adamBeta1},${args.adamBeta2}) and epsilon=${pythonFloat(args.adamEpsilon)}` +
    (args.weightDecay > 0 ? ` and weight_decay=${pythonFloat(args.weightDecay)}` : '')]);
  h.push(['lr_scheduler_type', args.lrSchedulerType]);
  if (args.warmupSteps > 0) h.push(['lr_scheduler_warmup_steps', String(args.warmupSteps)]);
  else if (args.warmupRatio > 0) h.push(['lr_scheduler_warmup_ratio', pythonFloat(args.warmupRatio)]);
  if (args.maxSteps > 0) h.push(['training_steps', String(args.maxSteps)]);
  else h.push(['num_epochs', pythonFloat(args.numTrainEpochs)]);
  if (args.maxGradNorm > 0) h.push(['max_grad_norm', pythonFloat(args.maxGradNorm)]);
  return h.map(([name, value]) => ({ name, value }));
}

/** A folder's last name ('../models/base/' -> 'base'). */
function folderName(path: string): string {
  return path.split(/[\\/]/).filter((p) => p && p !== '.' && p !== '..').at(-1) ?? path;
}

/** The model card's Markdown. */
export function renderModelCard(input: ModelCardInput): string {
  const { header, rows, evalResults } = parseLogHistory(input.logHistory);
  const metricTags = evalResults.map((r) => r.key).filter((k) => ['accuracy', 'f1', 'precision', 'recall'].includes(k));
  const platform = trainerPlatform();
  const local = input.baseModel && platform.isLocalPath(input.baseModel) ? input.baseModel : null;
  const baseModel = local ? null : input.baseModel ?? null;
  const context = {
    model_name: input.modelName ?? input.args.outputDir.split(/[\\/]/).filter(Boolean).at(-1) ?? 'model',
    base_model: baseModel,
    base_model_url: baseModel ? `https://huggingface.co/${baseModel}` : null,
    local_base_model: local && folderName(local),
    curves: input.curves ?? null,
    dataset_id: input.datasetId ?? null,
    dataset_name: input.datasetName ?? input.datasetId ?? null,
    dataset_phrase: input.datasetName ?? input.datasetId ? `the ${input.datasetName ?? input.datasetId} dataset.` : 'an unknown dataset.',
    license: input.license ?? null,
    tags: [...new Set([...DEFAULT_TAGS, ...(input.tags ?? [])])],
    metric_tags: metricTags,
    index_metrics: evalResults.filter((r) => metricTags.includes(r.key)).map((r) => ({ name: r.name, type: r.key, value: pythonFloat(r.value) })),
    eval_results: evalResults.map((r) => ({ name: r.name, value: maybeRound(r.value) })),
    label_names: (input.labelNames ?? []).map((name, id) => ({ id, name: name.replace(/\|/g, '\\|') })), // '|' would end the table cell
    hyperparameters: hyperparameters(input.args, input.optimizerName ?? 'AdamW'),
    results_header: header,
    results_rows: rows,
    engine_version: ENGINE_VERSION,
    adapter: input.adapter,
    node_version: platform.runtimeVersion,
  };
  return new Template(TEMPLATES['model-card.md']).render(context);
}
