// tokenizer.json, the parts this project reads itself (the post-processor's templates and the
// special tokens; @huggingface/tokenizers reads the rest), and the tokenizer.json that
// transformers builds from a vocab.txt for checkpoints that ship only that.

// The parts of tokenizer.json this file reads itself (the library reads the rest).
type TemplateItem = { SpecialToken: { id: string; type_id: number } } | { Sequence: { id: 'A' | 'B'; type_id: number } };
export interface TokenizerJson {
  added_tokens: { id: number; content: string; special: boolean; normalized: boolean; lstrip: boolean; rstrip: boolean; single_word: boolean }[];
  post_processor:
    | { type: 'TemplateProcessing'; single: TemplateItem[]; pair: TemplateItem[]; special_tokens: Record<string, { id: string; ids: number[]; tokens: string[] }> }
    | { type: 'BertProcessing'; cls: [string, number]; sep: [string, number] }
    | null;
  [key: string]: unknown;
}

/** A template resolved to ids: each part is either special ids or the A / B sequence with its token type. */
export type Template = ({ ids: number[]; typeId: number } | { sequence: 'A' | 'B'; typeId: number })[];

/** The single and pair templates of tokenizer.json's post_processor, with special tokens as ids. */
export function resolveTemplates(json: TokenizerJson, name: string): [Template, Template] {
  const pp = json.post_processor;
  if (pp?.type === 'BertProcessing') {
    const [cls, sep] = [{ ids: [pp.cls[1]], typeId: 0 }, { ids: [pp.sep[1]], typeId: 0 }];
    return [
      [cls, { sequence: 'A', typeId: 0 }, sep],
      [cls, { sequence: 'A', typeId: 0 }, sep, { sequence: 'B', typeId: 1 }, { ids: [pp.sep[1]], typeId: 1 }],
    ];
  }
  if (pp?.type !== 'TemplateProcessing') {
    throw new Error(`tokenizer ${name}: post_processor ${JSON.stringify((pp as { type?: string } | null)?.type ?? null)} is not supported (TemplateProcessing or BertProcessing expected)`);
  }
  const resolve = (items: TemplateItem[]): Template =>
    items.map((item) => {
      if ('Sequence' in item) return { sequence: item.Sequence.id, typeId: item.Sequence.type_id };
      const special = pp.special_tokens[item.SpecialToken.id];
      if (!special) throw new Error(`tokenizer ${name}: template token ${item.SpecialToken.id} has no entry in special_tokens`);
      return { ids: special.ids, typeId: item.SpecialToken.type_id };
    });
  return [resolve(pp.single), resolve(pp.pair)];
}

/** A special token in a config: a string or an AddedToken object {content, ...}. */
export function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}

/**
 * The tokenizer.json that transformers' BertConverter (convert_slow_tokenizer.py)
 * builds from vocab.txt: BertNormalizer, BertPreTokenizer, WordPiece with
 * [UNK] and "##", [CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1, WordPiece decoder.
 * do_lower_case: tokenizer_config.json's value; without one, true unless the
 * model's name says "cased" but not "uncased" (BertTokenizer's default is true;
 * the Hub's bert-base-cased configs set it false).
 */
export function wordPieceTokenizerJson(vocabTxt: string, config: Record<string, unknown>, name: string): TokenizerJson {
  // load_vocab: one token per line, trailing "\n" stripped; a later duplicate line wins the token -> id entry.
  const lines = vocabTxt.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const vocab: Record<string, number> = Object.create(null);
  lines.forEach((token, id) => (vocab[token] = id));
  const base = name.split(/[\\/]/).filter(Boolean).at(-1) ?? '';
  const lowercase = typeof config.do_lower_case === 'boolean' ? config.do_lower_case : !(/cased/i.test(base) && !/uncased/i.test(base));
  const token = (key: string, fallback: string): string => tokenContent(config[key]) ?? fallback;
  const [cls, sep, unk] = [token('cls_token', '[CLS]'), token('sep_token', '[SEP]'), token('unk_token', '[UNK]')];
  for (const [key, t] of [['cls_token', cls], ['sep_token', sep], ['unk_token', unk]]) {
    if (!(t in vocab)) throw new Error(`tokenizer ${name}: ${key} ${JSON.stringify(t)} is not in vocab.txt`);
  }
  const specials = [token('pad_token', '[PAD]'), unk, cls, sep, token('mask_token', '[MASK]')];
  const additional = Array.isArray(config.additional_special_tokens) ? config.additional_special_tokens.map(tokenContent) : [];
  const added = [...new Set([...specials, ...additional])]
    .filter((t): t is string => t !== undefined && t in vocab)
    .map((content) => ({ id: vocab[content], content, special: true, normalized: false, lstrip: false, rstrip: false, single_word: false }))
    .sort((x, y) => x.id - y.id);
  const special = (t: string) => ({ id: t, ids: [vocab[t]], tokens: [t] });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: config.tokenize_chinese_chars ?? true,
      strip_accents: config.strip_accents ?? null,
      lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } }],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: { [cls]: special(cls), [sep]: special(sep) },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: unk, continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}
