// Loading and saving any model, as transformers' PreTrainedModel: the class declares its
// base_model_prefix and the parameters it ties; loading reads config.json and the weights
// from a FileSource (a local folder, the Hub, files a user picked), matches them by Hugging
// Face name and reports what was missing, unexpected or of another shape; saving writes
// config.json and model.safetensors without the tied duplicates. No Node API: the browser
// uses it too.

import { hasDevice, init, gpu } from '../gpu/device.js';
import { Module } from '../nn/module.js';
import { Embedding } from '../nn/embedding.js';
import { checkOptions, type WithSnakeCase } from '../options.js';
import type { Tensor } from '../tensor.js';
import { readCheckpointConfig, readCheckpointWeights, writeCheckpoint, CONFIG_NAME, type WeightTensor } from '../io/checkpoint.js';
import { resolveSource, resolveTarget, type FileTarget, type ModelLocation, type SourceOptions } from '../io/sources.js';
import { describeMatch, matchWeights, stripPrefix, type WeightMatch } from './weights.js';

export interface WeightLoadOptions {
  /**
   * As transformers' ignore_mismatched_sizes: a checkpoint tensor whose shape differs from the
   * parameter's is left out and the parameter keeps its fresh initialisation (reported); without
   * it a mismatch is an error. E.g. a classifier fine-tuned with another number of labels.
   */
  ignoreMismatchedSizes?: boolean;
}

export interface PretrainedLoadOptions extends WeightLoadOptions {
  /** Where the load summary goes (default console.log; null for silence). */
  log?: ((line: string) => void) | null;
  /** Revision, endpoint, token, cache, offline mode for a Hub id. */
  hub?: SourceOptions;
}

/** num_parameters()'s options, as transformers' only_trainable and exclude_embeddings. */
export interface NumParametersOptions {
  onlyTrainable?: boolean;
  excludeEmbeddings?: boolean;
}

export abstract class PreTrainedModel extends Module {
  /** transformers' class name, written to config.json's architectures. */
  abstract get architecture(): string;

  /** transformers' base_model_prefix: the attribute holding the base model ('bert'). */
  abstract get baseModelPrefix(): string;

  /** Parameters tied to another (transformers' _tied_weights_keys): never loaded, never saved. */
  get tiedWeights(): readonly string[] {
    return Object.keys(this.tiedTo);
  }

  /** Each tied name with the name of the parameter it is. */
  protected get tiedTo(): Readonly<Record<string, string>> {
    return {};
  }

  /**
   * transformers' num_parameters(): elements of every parameter (tied ones once); onlyTrainable
   * counts those with requiresGrad, excludeEmbeddings leaves out the Embedding layers' weights.
   */
  numParameters(options?: WithSnakeCase<NumParametersOptions>): number {
    const { onlyTrainable = false, excludeEmbeddings = false } = checkOptions<NumParametersOptions>('num_parameters', options, ['onlyTrainable', 'excludeEmbeddings']);
    const embeddings = new Set<Tensor>();
    const walk = (m: Module): void => {
      if (m instanceof Embedding) embeddings.add(m.weight);
      for (const [, child] of m.children()) walk(child);
    };
    if (excludeEmbeddings) walk(this);
    return this.parameters()
      .filter((p) => (!onlyTrainable || p.requiresGrad) && !embeddings.has(p))
      .reduce((n, p) => n + p.size, 0);
  }

  num_parameters(options?: WithSnakeCase<NumParametersOptions>): number {
    return this.numParameters(options);
  }

  /** torch's state_dict(), tied names included as transformers' models list them (the same tensors). */
  override stateDict(): Record<string, Tensor> {
    const state = super.stateDict();
    for (const [tied, source] of Object.entries(this.tiedTo)) state[tied] = state[source];
    return state;
  }

  /** The config.json text save_pretrained writes for this model. */
  abstract configJson(): string;

  /** Checkpoint tensors this model drops without reporting them (heads of other tasks it never has). */
  protected ignoredCheckpointTensors(): RegExp[] {
    return [];
  }

  /**
   * Copies a checkpoint's tensors into the parameters (matched by Hugging Face name, the base
   * model's prefix added or stripped); parameters it lacks keep their initialisation. A shape
   * mismatch is an error naming both shapes, unless ignoreMismatchedSizes. Returns
   * transformers' one-line summaries of what was newly initialised or unused.
   */
  loadWeights(tensors: ReadonlyMap<string, WeightTensor>, source: string, { ignoreMismatchedSizes = false }: WeightLoadOptions = {}): string[] {
    const params = this.namedParameters();
    const match = matchWeights([...params].map(([n, p]) => [n, p.shape] as const), tensors, {
      prefix: this.baseModelPrefix,
      tied: this.tiedWeights,
      ignoreUnexpected: this.ignoredCheckpointTensors(),
    });
    if (!ignoreMismatchedSizes) refuseMismatches(match, this.architecture, source);
    const runtime = gpu();
    for (const [name, w] of match.assign) {
      const p = params.get(name)!;
      runtime.upload(w.data, p.buffer, p.byteOffset); // a parameter may be a view in an optimizer's arena
    }
    return describeMatch(match, this.architecture, source);
  }

  /**
   * Writes config.json (architectures among its fields) and model.safetensors with Hugging
   * Face's names, tied duplicates left out as transformers does. A string is a folder in Node.
   */
  async savePretrained(location: string | FileTarget): Promise<void> {
    const target = resolveTarget(location);
    const tensors: [string, { shape: number[]; data: Float32Array }][] = [];
    for (const [name, p] of this.namedParameters()) {
      if (this.isTied(name)) continue;
      tensors.push([name, { shape: [...p.shape], data: await p.toArray() }]);
    }
    await writeCheckpoint(target, this.configJson(), tensors);
  }

  /** transformers' spelling of savePretrained. */
  save_pretrained(location: string | FileTarget): Promise<void> {
    return this.savePretrained(location);
  }

  /**
   * The files savePretrained writes (config.json, model.safetensors), as bytes by name: for
   * storages that are no folder on disk (a browser's memory or OPFS, a zip to download).
   */
  async pretrainedFiles(): Promise<Record<string, Uint8Array | string>> {
    const files: Record<string, Uint8Array | string> = {};
    await this.savePretrained({ description: `${this.architecture} in memory`, write: async (file, data) => void (files[file] = data) });
    return files;
  }

  private isTied(name: string): boolean {
    return this.tiedWeights.includes(name) || this.tiedWeights.includes(stripPrefix(name, this.baseModelPrefix));
  }
}

/** How a model class reads its config: the text of config.json -> a config checked to fit the device. */
export interface ModelFactory<C, M extends PreTrainedModel> {
  /** Parses (and adjusts, e.g. the labels) config.json; `path` names it in errors. Runs before any weight is read. */
  config(text: string, path: string): C;
  create(config: C): M;
}

/**
 * config.json and weights from `location` (a Hub id, a URL, a folder, picked files; see
 * io/sources.ts) into a new model. Opens the device when none is open.
 */
export async function loadPretrained<C, M extends PreTrainedModel>(location: ModelLocation, options: PretrainedLoadOptions, factory: ModelFactory<C, M>): Promise<M> {
  if (!hasDevice()) await init();
  const source = resolveSource(location, options.hub);
  const config = factory.config(await readCheckpointConfig(source), source.locate(CONFIG_NAME));
  const { tensors } = await readCheckpointWeights(source);
  const model = factory.create(config);
  const lines = model.loadWeights(tensors, typeof location === 'string' ? location : source.description, options);
  if (options.log !== null) for (const line of lines) (options.log ?? console.log)(line);
  return model;
}

/** transformers refuses shape mismatches unless ignore_mismatched_sizes; so do we, naming both shapes. */
function refuseMismatches(match: WeightMatch, modelName: string, checkpoint: string): void {
  if (match.mismatched.length === 0) return;
  const list = match.mismatched.map((m) => `size mismatch for ${m.name}: the checkpoint has shape [${m.got.join(', ')}], the model expects [${m.expected.join(', ')}]`);
  throw new Error(
    `Error loading ${checkpoint} into ${modelName}: ${list.join('; ')}. ` +
      'Pass ignoreMismatchedSizes: true to initialise these weights anew (e.g. a classifier with a different number of labels).',
  );
}
