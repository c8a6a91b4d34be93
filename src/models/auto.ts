// transformers' Auto classes for the architectures shadergrad has: AutoModel,
// AutoModelForSequenceClassification and AutoModelForMaskedLM load a checkpoint into the class
// its config.json's model_type names. BERT is the one model type; another is refused by the
// config parser, naming it.

import type { ModelLocation } from '../io/sources.js';
import type { WithSnakeCase } from '../options.js';
import { BertForMaskedLM, BertForSequenceClassification, BertModel, type BertLoadOptions } from './bert/modeling.js';

interface AutoClass<M> {
  fromPretrained(location: ModelLocation, options?: WithSnakeCase<BertLoadOptions>): Promise<M>;
  /** transformers' spelling of fromPretrained. */
  from_pretrained(location: ModelLocation, options?: WithSnakeCase<BertLoadOptions>): Promise<M>;
}

function autoClass<M>(load: (location: ModelLocation, options?: WithSnakeCase<BertLoadOptions>) => Promise<M>): AutoClass<M> {
  return Object.freeze({ fromPretrained: load, from_pretrained: load });
}

/** The bare encoder (lastHiddenState, pooled), as transformers' AutoModel. */
export const AutoModel = autoClass((location, options) => BertModel.fromPretrained(location, options));
/** The encoder with a classifier on the pooled output, as AutoModelForSequenceClassification. */
export const AutoModelForSequenceClassification = autoClass((location, options) => BertForSequenceClassification.fromPretrained(location, options));
/** The encoder with the masked-LM head, as AutoModelForMaskedLM. */
export const AutoModelForMaskedLM = autoClass((location, options) => BertForMaskedLM.fromPretrained(location, options));
