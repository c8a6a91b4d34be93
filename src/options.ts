// Options objects of the public API: each is checked against the keys it
// knows, so a misspelt or unsupported option is an error instead of being
// silently ignored. Keys are camelCase; the snake_case spelling that
// transformers.js and Python use (top_k, skip_special_tokens, max_length) is
// accepted as well and mapped to the camelCase one.

/** 'topK' -> 'top_k', 'skipSpecialTokens' -> 'skip_special_tokens'. */
export type SnakeCase<S extends string> = S extends `${infer Head}${infer Rest}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Rest>}`
  : S;

/** An options type that also takes each key in its snake_case spelling. */
export type WithSnakeCase<T> = T & { [K in keyof T as K extends string ? SnakeCase<K> : never]?: T[K] };

export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** How checkOptions names the keys in its errors: 'option' by default ('field', 'input'), and what it says is known instead of the list. */
export interface KeyWording {
  noun?: string;
  knownAs?: string;
}

/**
 * Checks `options` (camelCase or snake_case keys) against the camelCase keys
 * in `known` and returns it with camelCase keys, undefined values dropped.
 * An unknown key, or one key given in both spellings, throws with `what`
 * (the function or class it was passed to), the key and the known ones.
 */
export function checkOptions<T extends object>(what: string, options: WithSnakeCase<T> | undefined, known: readonly (keyof T & string)[], { noun = 'option', knownAs }: KeyWording = {}): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`${what}: options must be an object, got ${JSON.stringify(options) ?? String(options)}`);
  }
  const out: Record<string, unknown> = {};
  const spelt: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) {
    const name = camelCase(key);
    if (!(known as readonly string[]).includes(name)) {
      const list = known.map((k) => (snakeCase(k) === k ? k : `${k} (${snakeCase(k)})`)).join(', ');
      throw new Error(`${what}: unknown ${noun} '${key}'; ${knownAs ?? `known ${noun}s: ${list || 'none'}`}`);
    }
    if (value === undefined) continue;
    if (name in spelt) throw new Error(`${what}: ${noun} '${name}' given twice, as '${spelt[name]}' and '${key}'`);
    spelt[name] = key;
    out[name] = value;
  }
  return out as T;
}
