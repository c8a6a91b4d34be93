// safetensors read and write on plain bytes (no `fs`: runs in Node and in browsers).
//
// Format (https://github.com/huggingface/safetensors): u64 little-endian N, then N bytes of UTF-8
// JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}},
// then the data section. Offsets are relative to the data section; the tensors tile it exactly
// (no holes, no overlaps, nothing after the last one), each C-ordered little-endian.
//
// Decision: we own this reader and writer and do not use the npm `safetensors` package (0.0.1).
// That package only parses (no writer), validates nothing (offsets, sizes, dtypes), and builds its
// DataView over the whole ArrayBuffer, so a Node Buffer with a non-zero byteOffset (every small
// pooled Buffer) decodes the wrong bytes. The format is small enough that owning it is cheaper
// than working around those gaps, and every bad file here gets an error naming file and tensor.

/** Element types of the format, with their sizes in bytes. */
const DTYPE_SIZES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
} as const;

export type SafetensorsDType = keyof typeof DTYPE_SIZES;

/** Integer and boolean dtypes: not weights (e.g. BERT's I64 position_ids buffer). */
export const INTEGER_DTYPES: ReadonlySet<SafetensorsDType> = new Set(['BOOL', 'U8', 'I8', 'I16', 'U16', 'I32', 'U32', 'I64', 'U64']);

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  /** F32, F16, BF16 and F64 converted to float32 (a copy); null for every other dtype. */
  data: Float32Array | null;
  /** The tensor's bytes in the file: a view into the input (no copy), little-endian. */
  raw: Uint8Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  /** In data-section order. */
  tensors: Map<string, SafetensorsTensor>;
}

/** What writeSafetensors takes per tensor: float32 values, C order. */
export interface TensorData {
  shape: readonly number[];
  data: Float32Array;
}

/** The Rust reference rejects headers above 100 MB; so do we, before allocating anything. */
export const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Parses a safetensors file. `source` (a file name or URL) prefixes every error message.
 * Validation happens before any tensor is decoded, so a corrupt length never allocates.
 */
export function readSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  const fail: (message: string) => never = (message) => {
    throw new Error(`${source}: ${message}`);
  };
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  // The DataView covers exactly `bytes`, whatever its byteOffset in the underlying buffer.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthLow = view.getUint32(0, true);
  const lengthHigh = view.getUint32(4, true);
  const headerLength = lengthHigh * 2 ** 32 + lengthLow; // inexact above 2^53, only used in messages then
  if (lengthHigh !== 0 || headerLength > MAX_HEADER_BYTES) {
    fail(`header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte limit (file is ${bytes.byteLength} bytes)`);
  }
  if (headerLength > bytes.byteLength - 8) {
    fail(`header length ${headerLength} runs past the end of the file (${bytes.byteLength} bytes)`);
  }
  if (headerLength === 0) fail('header length is 0 (the header must be a JSON object)');

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    return fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) fail(`header is ${describeJson(header)}, not a JSON object`);
  // JSON.parse keeps the last of two equal keys; the Rust reference refuses them.
  const duplicate = findDuplicateKey(text);
  if (duplicate) {
    if (duplicate.under === null) fail(`${duplicate.key === '__metadata__' ? '__metadata__' : `tensor '${duplicate.key}'`} appears twice in the header`);
    fail(`${duplicate.under === '__metadata__' ? '__metadata__' : `tensor '${duplicate.under}'`}: key ${JSON.stringify(duplicate.key)} appears twice`);
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const infos: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) fail(`__metadata__ is ${describeJson(entry)}, not an object of strings`);
      for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof value !== 'string') fail(`__metadata__.${key} is ${describeJson(value)}, not a string`);
        // defineProperty: a key named "__proto__" stays a plain entry.
        Object.defineProperty(metadata, key, { value, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const where = `tensor '${name}'`;
    if (!isPlainObject(entry)) fail(`${where}: entry is ${describeJson(entry)}, not an object`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (dtype === undefined) fail(`${where}: missing dtype`);
    if (shape === undefined) fail(`${where}: missing shape`);
    if (offsets === undefined) fail(`${where}: missing data_offsets`);
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_SIZES, dtype)) {
      fail(`${where}: unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_SIZES).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
      fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger) || offsets[0] > offsets[1]) {
      fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) fail(`${where}: data_offsets [${begin}, ${end}] run past the data section (${dataLength} bytes)`);
    const size = DTYPE_SIZES[dtype as SafetensorsDType];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    // Overflow past 2^53 cannot equal end - begin (at most the file size), so the check stays exact.
    if (count * size !== end - begin) {
      fail(`${where}: shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${count * size} bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    infos.push({ name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end });
  }

  // The tensors must tile the data section: sorted by begin, each starts where the previous ended.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: string | null = null;
  for (const info of infos) {
    if (info.begin < covered) fail(`tensor '${info.name}': data_offsets [${info.begin}, ${info.end}] overlap tensor '${previous}' (ends at ${covered})`);
    if (info.begin > covered) {
      fail(`tensor '${info.name}': data_offsets [${info.begin}, ${info.end}] leave a hole of ${info.begin - covered} bytes after ${previous === null ? 'the header' : `tensor '${previous}'`}`);
    }
    covered = info.end;
    previous = info.name;
  }
  if (covered !== dataLength) fail(`data section is ${dataLength} bytes but the tensors cover ${covered}: the last ${dataLength - covered} belong to no tensor`);

  const tensors = new Map<string, SafetensorsTensor>();
  for (const { name, dtype, shape, begin, end } of infos) {
    // A plain Uint8Array view even when `bytes` is a Node Buffer (whose subarray is a Buffer).
    const raw = new Uint8Array(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
    tensors.set(name, { dtype, shape, data: decodeFloat32(raw, dtype), raw });
  }
  return { metadata, tensors };
}

/**
 * Serialises float32 tensors as the Python library does: tensors sorted by name, `__metadata__`
 * first, compact JSON padded with spaces to a multiple of 8 bytes, F32 little-endian data.
 */
export function writeSafetensors(
  tensors: ReadonlyMap<string, TensorData> | Iterable<readonly [string, TensorData]>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = [...tensors];
  const names = new Set<string>();
  for (const [name, { shape, data }] of entries) {
    if (name === '__metadata__') throw new Error("writeSafetensors: '__metadata__' cannot be a tensor name");
    if (names.has(name)) throw new Error(`writeSafetensors: tensor '${name}' given twice`);
    names.add(name);
    if (!shape.every(isNonNegativeInteger)) throw new Error(`writeSafetensors: tensor '${name}': invalid shape [${shape.join(', ')}]`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (data.length !== count) throw new Error(`writeSafetensors: tensor '${name}': shape [${shape.join(', ')}] has ${count} elements, data has ${data.length}`);
  }
  entries.sort(([a], [b]) => compareCodePoints(a, b));

  // The header text is built in order: JSON.stringify of an object would move integer-like names
  // ("0", "1") first, and a tensor named "__proto__" would not survive as an object key.
  const parts: string[] = [];
  if (metadata) {
    const fields = Object.keys(metadata).sort(compareCodePoints).map((key) => {
      if (typeof metadata[key] !== 'string') throw new Error(`writeSafetensors: metadata '${key}' is not a string`);
      return `${JSON.stringify(key)}:${JSON.stringify(metadata[key])}`;
    });
    parts.push(`"__metadata__":{${fields.join(',')}}`);
  }
  let offset = 0;
  for (const [name, { shape, data }] of entries) {
    const info = { dtype: 'F32', shape: [...shape], data_offsets: [offset, offset + data.length * 4] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += data.length * 4;
  }
  const json = `{${parts.join(',')}}`;
  const headerBytes = new TextEncoder().encode(json);
  const headerLength = Math.ceil(headerBytes.length / 8) * 8;

  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(headerBytes, 8);
  out.fill(0x20, 8 + headerBytes.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const [, { data }] of entries) {
    if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    } else {
      for (let i = 0; i < data.length; i++) view.setFloat32(at + 4 * i, data[i], true);
    }
    at += data.byteLength;
  }
  return out;
}

/** Float64 values of a float tensor (F64 exactly; F32, F16, BF16 widened). For goldens and tests. */
export function toFloat64(tensor: SafetensorsTensor, name: string): Float64Array {
  if (tensor.dtype === 'F64') {
    const view = new DataView(tensor.raw.buffer, tensor.raw.byteOffset, tensor.raw.byteLength);
    const out = new Float64Array(tensor.raw.byteLength / 8);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(8 * i, true);
    return out;
  }
  if (!tensor.data) throw new Error(`tensor '${name}' has dtype ${tensor.dtype}, not a float type`);
  return Float64Array.from(tensor.data);
}

/** Int32 values of an integer or boolean tensor (token ids, labels); a value outside int32 is an error. */
export function toInt32(tensor: SafetensorsTensor, name: string): Int32Array {
  if (!INTEGER_DTYPES.has(tensor.dtype)) throw new Error(`tensor '${name}' has dtype ${tensor.dtype}, not an integer type`);
  const size = DTYPE_SIZES[tensor.dtype];
  const view = new DataView(tensor.raw.buffer, tensor.raw.byteOffset, tensor.raw.byteLength);
  const out = new Int32Array(tensor.raw.byteLength / size);
  for (let i = 0; i < out.length; i++) {
    const at = i * size;
    let value: number | bigint;
    switch (tensor.dtype) {
      case 'BOOL': case 'U8': value = view.getUint8(at); break;
      case 'I8': value = view.getInt8(at); break;
      case 'I16': value = view.getInt16(at, true); break;
      case 'U16': value = view.getUint16(at, true); break;
      case 'I32': value = view.getInt32(at, true); break;
      case 'U32': value = view.getUint32(at, true); break;
      case 'I64': value = view.getBigInt64(at, true); break;
      default: value = view.getBigUint64(at, true); break; // U64
    }
    if (value < -2147483648 || value > 2147483647) throw new Error(`tensor '${name}': element ${i} is ${value}, outside int32`);
    out[i] = Number(value);
  }
  return out;
}

/** IEEE binary16 bits to a number (exact: every half is a float32). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

function decodeFloat32(raw: Uint8Array, dtype: SafetensorsDType): Float32Array | null {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(raw.byteLength / 4);
      // A byte copy into fresh aligned storage (not raw.slice(): on a Node Buffer that is a view).
      if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(raw);
      else for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case 'F64': {
      const out = new Float32Array(raw.byteLength / 8);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(raw.byteLength / 2);
      for (let i = 0; i < out.length; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(raw.byteLength / 2);
      for (let i = 0; i < bits.length; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(bits.buffer);
    }
    default:
      return null;
  }
}

/**
 * The first key that occurs twice in one object of `text` (valid JSON), with the top-level key
 * whose value holds that object (null for the top-level object itself).
 */
function findDuplicateKey(text: string): { key: string; under: string | null } | null {
  // One frame per open object or array: the keys seen so far (null for an array).
  const frames: (Set<string> | null)[] = [];
  let expectKey = false;
  let top: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const keys = frames.at(-1);
      if (!expectKey || !keys) continue;
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      if (keys.has(key)) return { key, under: frames.length === 1 ? null : top };
      keys.add(key);
      if (frames.length === 1) top = key;
      expectKey = false;
    } else if (c === '{') {
      frames.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      frames.push(null);
    } else if (c === '}' || c === ']') {
      frames.pop();
    } else if (c === ',') {
      expectKey = frames.at(-1) !== null;
    }
  }
  return null;
}

function isPlainObject(x: unknown): boolean {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isNonNegativeInteger(x: unknown): boolean {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function describeJson(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return `a ${typeof x}`;
}

/** Code-point order, which is the UTF-8 byte order that Rust's string comparison uses. */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const ca = ia.next();
    const cb = ib.next();
    if (ca.done || cb.done) return (ca.done ? 0 : 1) - (cb.done ? 0 : 1);
    const d = ca.value.codePointAt(0)! - cb.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}
