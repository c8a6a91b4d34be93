// Matching a checkpoint's weights to a model's parameters, as transformers'
// from_pretrained does: legacy names normalised, the base-model prefix added or
// stripped, tied weights skipped, and missing / unexpected / mismatched
// tensors reported in transformers' words. The model class declares its prefix and tied
// weights (src/models/pretrained.ts). No file access: the browser uses it too.

import type { WeightTensor } from '../io/checkpoint.js';

/** `bert.encoder.x` -> `encoder.x`; a name without the prefix is returned as it is. */
export function stripPrefix(name: string, prefix: string): string {
  return name.startsWith(`${prefix}.`) ? name.slice(prefix.length + 1) : name;
}

export interface WeightMatch {
  /** Model parameter name -> checkpoint tensor (shapes equal). */
  assign: Map<string, WeightTensor>;
  /** Model parameters the checkpoint lacks: they keep their fresh initialisation. */
  missing: string[];
  /** Checkpoint tensors (checkpoint names) the model has no parameter for. */
  unexpected: string[];
  /** Present in both with different shapes (model name). */
  mismatched: { name: string; expected: number[]; got: number[] }[];
}

export interface MatchOptions {
  /** The base model's attribute name (transformers' base_model_prefix). */
  prefix: string;
  /** Names the model ties to another parameter: never assigned, missing or unexpected. */
  tied: readonly string[];
  /** Checkpoint tensors to drop without reporting (e.g. /^bert\.pooler\./ for a model without a pooler). */
  ignoreUnexpected?: readonly RegExp[];
}

/**
 * Matches a model's parameters (name -> shape) with a checkpoint's tensors. As in transformers,
 * a head model (parameters `bert.*`) loads a bare BertModel checkpoint (`embeddings.*`) by adding
 * the prefix, and a bare BertModel loads a head checkpoint by stripping it.
 */
export function matchWeights(
  expected: ReadonlyMap<string, readonly number[]> | Iterable<readonly [string, readonly number[]]>,
  tensors: ReadonlyMap<string, WeightTensor>,
  { prefix, tied, ignoreUnexpected = [] }: MatchOptions,
): WeightMatch {
  const params = [...expected];
  const withPrefix = (n: string) => n.startsWith(`${prefix}.`);
  const modelHasPrefix = params.some(([n]) => withPrefix(n));
  const checkpointHasPrefix = [...tensors.keys()].some(withPrefix);
  const checkpointName = (modelName: string): string => {
    if (modelHasPrefix && !checkpointHasPrefix) return stripPrefix(modelName, prefix);
    if (!modelHasPrefix && checkpointHasPrefix) return `${prefix}.${modelName}`;
    return modelName;
  };
  const isTied = (modelName: string) => tied.includes(modelName) || tied.includes(stripPrefix(modelName, prefix));

  const result: WeightMatch = { assign: new Map(), missing: [], unexpected: [], mismatched: [] };
  const used = new Set<string>();
  for (const [name, shape] of params) {
    if (isTied(name)) continue;
    const key = checkpointName(name);
    const tensor = tensors.get(key);
    if (!tensor) {
      result.missing.push(name);
      continue;
    }
    used.add(key);
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      result.mismatched.push({ name, expected: [...shape], got: [...tensor.shape] });
    } else {
      result.assign.set(name, tensor);
    }
  }
  for (const key of tensors.keys()) {
    if (used.has(key) || tied.includes(key) || tied.includes(stripPrefix(key, prefix))) continue;
    if (ignoreUnexpected.some((re) => re.test(key))) continue;
    result.unexpected.push(key);
  }
  result.missing.sort();
  result.unexpected.sort();
  return result;
}

/** transformers' from_pretrained messages for a match, one line each. */
export function describeMatch(match: WeightMatch, modelName: string, checkpoint: string): string[] {
  const lines: string[] = [];
  if (match.unexpected.length > 0) {
    lines.push(`Some weights of the model checkpoint at ${checkpoint} were not used when initializing ${modelName}: ${pyList(match.unexpected)}`);
  }
  if (match.missing.length > 0) {
    lines.push(`Some weights of ${modelName} were not initialized from the model checkpoint at ${checkpoint} and are newly initialized: ${pyList(match.missing)}`);
  }
  if (match.mismatched.length > 0) {
    const list = match.mismatched.map((m) => `${m.name}: found shape ${shapeText(m.got)} in the checkpoint and ${shapeText(m.expected)} in the model instantiated`);
    lines.push(`Some weights of ${modelName} were not initialized from the model checkpoint at ${checkpoint} and are newly initialized because the shapes did not match: ${list.join('; ')}`);
  }
  if (match.missing.length === 0 && match.mismatched.length === 0) {
    lines.push(`All the weights of ${modelName} were initialized from the model checkpoint at ${checkpoint}.`);
  }
  return lines;
}

function pyList(names: string[]): string {
  return `[${names.map((n) => `'${n}'`).join(', ')}]`;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
