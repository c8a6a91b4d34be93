// Matching a checkpoint's weights to a model's parameters, as transformers'
// from_pretrained does: legacy names normalised, the base-model prefix added or
// stripped, tied weights skipped, and missing / unexpected / mismatched
// tensors reported in transformers' words. No file access: the browser uses it too.

/**
 * BERT's tied parameters (BertForMaskedLM._tied_weights_keys): the MLM decoder shares its weight
 * with bert.embeddings.word_embeddings.weight and its bias with cls.predictions.bias. They are not
 * loaded (the model ties them) and not saved (safetensors holds no aliases; transformers drops them).
 */
export const TIED_WEIGHTS: readonly string[] = ['cls.predictions.decoder.weight', 'cls.predictions.decoder.bias'];

/** A float32 weight in C order, as loaded. */
export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

/** Legacy TensorFlow-era names: LayerNorm.gamma / LayerNorm.beta are LayerNorm.weight / LayerNorm.bias. */
export function normalizeName(name: string): string {
  if (name.endsWith('LayerNorm.gamma')) return `${name.slice(0, -'gamma'.length)}weight`;
  if (name.endsWith('LayerNorm.beta')) return `${name.slice(0, -'beta'.length)}bias`;
  return name;
}

/** `bert.encoder.x` -> `encoder.x`; a name without the prefix is returned as it is. */
export function stripPrefix(name: string, prefix = 'bert'): string {
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
  prefix?: string;
  /** Names the model ties to another parameter: never assigned, missing or unexpected. */
  tied?: readonly string[];
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
  { prefix = 'bert', tied = TIED_WEIGHTS, ignoreUnexpected = [] }: MatchOptions = {},
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

/** Refuses shape mismatches unless the caller asked to re-initialise them (ignoreMismatchedSizes). */
export function assertNoMismatch(match: WeightMatch, modelName: string, checkpoint: string): void {
  if (match.mismatched.length === 0) return;
  const list = match.mismatched.map((m) => `size mismatch for ${m.name}: the checkpoint has shape ${shapeText(m.got)}, the model expects ${shapeText(m.expected)}`);
  throw new Error(
    `Error loading ${checkpoint} into ${modelName}: ${list.join('; ')}. ` +
      'Pass ignoreMismatchedSizes: true to initialise these weights anew (e.g. a classifier with a different number of labels).',
  );
}


function pyList(names: string[]): string {
  return `[${names.map((n) => `'${n}'`).join(', ')}]`;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
