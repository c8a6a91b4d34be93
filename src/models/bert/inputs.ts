// The inputs of BERT's forwards as users write them, checked and brought to one form.
//
// Accepted: the tokenizer's output and the collator's batch (camelCase Int32Arrays [B, T],
// row-major, with shape), transformers' snake_case keys (input_ids, attention_mask,
// token_type_ids), rows of ids as nested arrays (number[][]: the shape is read from them),
// flat number[] or any integer typed array (BigInt64Array too: transformers.js' int64 ids), and
// i32 tensors. A key the models do not take (position_ids, inputs_embeds, a misspelling) is an
// error that names it, as is a value that is not an integer, named by field and position.

import { Tensor } from '../../tensor.js';
import { checkOptions, snakeCase } from '../../options.js';

/** Ids, masks or labels: a flat row-major array (shape given beside it), rows of numbers, or an i32 tensor. */
export type InputValues = Int32Array | BigInt64Array | ArrayLike<number> | readonly (ArrayLike<number>)[] | Tensor;

/** A batch as the tokenizer or the collator makes it: i32 [B, T] arrays (or tensors), labels [B] (classifier) or [B·T] (MLM). */
export interface BertInputs {
  inputIds: InputValues;
  attentionMask?: InputValues;
  tokenTypeIds?: InputValues;
  labels?: InputValues;
  /** [B, T]; needed when inputIds is a flat array. */
  shape?: readonly [number, number];
}

/** The same batch with transformers' key names (input_ids, attention_mask, token_type_ids). */
export interface BertInputsSnakeCase {
  input_ids: InputValues;
  attention_mask?: InputValues;
  token_type_ids?: InputValues;
  labels?: InputValues;
  shape?: readonly [number, number];
}

/** A checked batch: every field an Int32Array or a tensor, and the shape [B, T]. */
export interface CheckedInputs {
  inputIds: Int32Array | Tensor;
  attentionMask?: Int32Array | Tensor;
  tokenTypeIds?: Int32Array | Tensor;
  labels?: Int32Array | Tensor;
  shape: [number, number];
}

type Field = 'inputIds' | 'attentionMask' | 'tokenTypeIds' | 'labels';
const FIELDS: readonly Field[] = ['inputIds', 'attentionMask', 'tokenTypeIds', 'labels'];
const WHAT = 'BERT';

/** Values as an Int32Array (rows flattened) and, for rows of numbers, their [rows, columns]. */
function int32Values(field: Field, x: Exclude<InputValues, Tensor>): { values: Int32Array; rows?: [number, number] } {
  if (x instanceof Int32Array) return { values: x };
  if (x === null || typeof x !== 'object' || typeof (x as ArrayLike<unknown>).length !== 'number') {
    throw new Error(`${WHAT}: ${snakeCase(field)} must be an array of integers, rows of them or an i32 tensor, got ${typeof x === 'object' ? String(x) : JSON.stringify(x)}`);
  }
  const items = x as ArrayLike<unknown>;
  if (items.length > 0 && typeof items[0] === 'object' && items[0] !== null) {
    const rows = Array.from(items as ArrayLike<ArrayLike<unknown>>);
    const T = rows[0].length;
    const values = new Int32Array(rows.length * T);
    rows.forEach((row, b) => {
      if (row === null || typeof row !== 'object' || row.length !== T) {
        throw new Error(`${WHAT}: ${snakeCase(field)} row ${b} has ${row?.length ?? 'no'} values, row 0 has ${T}: rows must be padded to one length`);
      }
      for (let t = 0; t < T; t++) values[b * T + t] = integer(field, row[t], `[${b}, ${t}]`);
    });
    return { values, rows: [rows.length, T] };
  }
  return { values: Int32Array.from({ length: items.length }, (_, i) => integer(field, items[i], `${i}`)) };
}

function integer(field: Field, v: unknown, at: string): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) {
    throw new Error(`${WHAT}: ${snakeCase(field)} at ${at} is ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)}, not a 32-bit integer`);
  }
  return n;
}

/** The batch in either spelling -> every field an Int32Array or a tensor, with the shape [B, T] (given, or read from rows of ids or an i32 [B, T] tensor). */
export function checkInputs(inputs: BertInputs | BertInputsSnakeCase | CheckedInputs): CheckedInputs {
  if (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs)) throw new Error(`${WHAT}: inputs must be an object with input_ids, got ${JSON.stringify(inputs)}`);
  const given = checkOptions<Partial<Record<Field | 'shape', unknown>>>(WHAT, inputs as object, [...FIELDS, 'shape'], {
    noun: 'input',
    knownAs: `the models take ${FIELDS.map(snakeCase).join(', ')} (or inputIds, ...) and shape`,
  });
  if (given.inputIds === undefined) throw new Error(`${WHAT}: inputs have no input_ids (inputIds)`);
  const out: Partial<CheckedInputs> = {};
  let rows: [number, number] | undefined;
  for (const field of FIELDS) {
    const x = given[field] as InputValues | undefined;
    if (x === undefined) continue;
    if (x instanceof Tensor) {
      out[field] = x;
      continue;
    }
    const converted = int32Values(field, x);
    out[field] = converted.values;
    if (field === 'inputIds') rows = converted.rows;
  }
  out.shape = batchShape(given.shape, out.inputIds!, rows);
  return out as CheckedInputs;
}

function batchShape(shape: unknown, inputIds: Int32Array | Tensor, rows: [number, number] | undefined): [number, number] {
  if (shape !== undefined) {
    const ok = Array.isArray(shape) && shape.length === 2 && shape.every((d) => Number.isInteger(d) && d >= 0);
    if (!ok) throw new Error(`${WHAT}: shape must be [B, T] (two non-negative integers), got ${JSON.stringify(shape)}`);
    const [B, T] = shape as [number, number];
    if (rows && (rows[0] !== B || rows[1] !== T)) throw new Error(`${WHAT}: shape [${B}, ${T}] but input_ids has ${rows[0]} rows of ${rows[1]}`);
    return [B, T];
  }
  if (rows) return rows;
  if (inputIds instanceof Tensor) {
    if (inputIds.rank !== 2) throw new Error(`${WHAT}: input_ids is a [${inputIds.shape.join(', ')}] tensor; without shape it must be [B, T]`);
    return [inputIds.shape[0], inputIds.shape[1]];
  }
  throw new Error(`${WHAT}: input_ids is a flat array of ${inputIds.length} ids: pass shape [B, T] with it (the tokenizer's output has it), or rows of ids`);
}
