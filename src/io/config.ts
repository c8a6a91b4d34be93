// Hugging Face config.json files, whatever the model: read as a JSON object with errors that
// name the file, and written as transformers' save_pretrained writes them (to_diff_dict: the
// model's fields, the PretrainedConfig fields that differ from their defaults, keys sorted,
// two-space indent, non-ASCII escaped, trailing newline).

/** config.json text (or an already-parsed value) as an object; `source` names the file in errors. */
export function jsonObject(input: unknown, source: string): Record<string, unknown> {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (e) {
      throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${source}: must be a JSON object`);
  return json as Record<string, unknown>;
}

/**
 * The config.json text of `fields` plus the `extra` keys kept from the file read
 * (_name_or_path dropped, as transformers does); fields equal to their entry in
 * `pretrainedDefaults` are left out.
 */
export function serializeConfig(fields: Record<string, unknown>, extra: Record<string, unknown>, pretrainedDefaults: Record<string, unknown>): string {
  const out: Record<string, unknown> = { ...extra };
  delete out._name_or_path;
  for (const [key, value] of Object.entries(fields)) {
    if (Object.hasOwn(pretrainedDefaults, key) && jsonEqual(value, pretrainedDefaults[key])) continue;
    out[key] = value;
  }
  return `${stringifySorted(out, '')}\n`;
}

function jsonEqual(a: unknown, b: unknown): boolean {
  return stringifySorted(a, '') === stringifySorted(b, '');
}

/** Python's json.dumps(x, indent=2, sort_keys=True) (ensure_ascii: non-ASCII as \uXXXX). */
function stringifySorted(value: unknown, indent: string): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
    return (JSON.stringify(value) ?? 'null').replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + stringifySorted(v, inner)).join(',\n')}\n${indent}]`;
  }
  const keys = Object.keys(value).sort();
  if (keys.length === 0) return '{}';
  const fields = keys.map((k) => `${inner}${stringifySorted(k, inner)}: ${stringifySorted((value as Record<string, unknown>)[k], inner)}`);
  return `{\n${fields.join(',\n')}\n${indent}}`;
}
