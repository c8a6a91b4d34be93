// safetensors reader and writer: the fixture, byte-exact output against the Rust reference's own
// test vectors, dtype conversions, every validation error, and 1,000 corrupted files.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { readSafetensors, writeSafetensors, halfToFloat, toFloat64, toInt32, MAX_HEADER_BYTES, type SafetensorsFile } from '../../src/io/safetensors.js';
import { splitmix32 } from '../../src/tensor.js';

const FIXTURE = 'test/fixtures/tiny-bert-legacy/model.safetensors';
const fixtureBytes = new Uint8Array(readFileSync(FIXTURE));

const DTYPE_SIZE: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};

/** A file from a header (object or raw text) and data bytes; headerLength overrides the length field. */
function buildFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function expectError(bytes: Uint8Array, pattern: RegExp, source = 'bad.safetensors'): void {
  try {
    readSafetensors(bytes, source);
  } catch (e) {
    assert.ok(e instanceof Error);
    const message = (e as Error).message;
    assert.ok(message.startsWith(`${source}: `), `message names the file: ${message}`);
    assert.match(message, pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

test('the fixture parses: metadata, 49 tensors in offset order, I64 kept raw with no float data', () => {
  const file = readSafetensors(fixtureBytes, FIXTURE);
  assert.equal(file.metadata, { format: 'pt' });
  assert.is(file.tensors.size, 49);
  const bias = file.tensors.get('classifier.bias')!;
  assert.is(bias.dtype, 'F32');
  assert.equal(bias.shape, [5]);
  // Values from Python's struct.unpack('<5f', ...) on the same bytes.
  assert.equal(Array.from(bias.data!), [0.021104756742715836, 0.026319747790694237, -0.09215796738862991, 0.06494065374135971, 0.060958534479141235]);
  const positions = file.tensors.get('bert.embeddings.position_ids')!;
  assert.is(positions.dtype, 'I64');
  assert.is(positions.data, null);
  assert.equal(positions.shape, [1, 64]);
  assert.equal(Array.from(toInt32(positions, 'bert.embeddings.position_ids')), Array.from({ length: 64 }, (_, i) => i));
  for (const [name, t] of file.tensors) {
    assert.is(t.raw.byteLength, product(t.shape) * DTYPE_SIZE[t.dtype], name);
    if (t.data) assert.is(t.data.length, product(t.shape), name);
  }
});

test('the float64 goldens parse: I64 inputs as int32, F64 outputs exact through toFloat64', () => {
  const path = 'test/fixtures/tiny-bert-legacy/goldens-cls.safetensors';
  const goldens = readSafetensors(new Uint8Array(readFileSync(path)), path);
  assert.is(goldens.metadata.task, 'cls');
  const ids = goldens.tensors.get('inputs.input_ids')!;
  assert.equal(ids.shape, [3, 11]);
  // Values from Python's struct.unpack on the same bytes.
  assert.equal(Array.from(toInt32(ids, 'inputs.input_ids').subarray(0, 11)), [101, 459, 688, 340, 258, 209, 507, 528, 137, 903, 276]);
  assert.equal(Array.from(toFloat64(goldens.tensors.get('out.loss')!, 'out.loss')), [1.5710935821037781]);
});

test('input with a non-zero byteOffset (unaligned, and a pooled Node Buffer) decodes the same values', () => {
  const reference = readSafetensors(fixtureBytes, FIXTURE);
  const padded = new Uint8Array(fixtureBytes.length + 11);
  padded.set(fixtureBytes, 3);
  const unaligned = padded.subarray(3, 3 + fixtureBytes.length);
  const small = writeSafetensors(new Map([['w', { shape: [3], data: new Float32Array([1.5, -2, 3.25]) }]]));
  const pooled = Buffer.from(small); // small Buffers live at an offset inside a shared pool
  assert.ok(pooled.byteOffset !== 0 || pooled.buffer.byteLength !== pooled.byteLength, 'the Buffer is a view into a larger ArrayBuffer');
  assert.equal(Array.from(readSafetensors(pooled, 'pooled').tensors.get('w')!.data!), [1.5, -2, 3.25]);
  const parsed = readSafetensors(unaligned, 'unaligned');
  for (const [name, t] of reference.tensors) {
    const u = parsed.tensors.get(name)!;
    assert.equal(u.shape, t.shape, name);
    assert.equal(Array.from(u.raw), Array.from(t.raw), name);
    if (t.data) assert.equal(Array.from(u.data!), Array.from(t.data), name);
  }
});

test('writeSafetensors matches the Rust reference byte for byte (its test vectors)', () => {
  // safetensors/src/tensor.rs test_serialization and test_empty (huggingface/safetensors).
  const one = writeSafetensors(new Map([['attn.0', { shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) }]]));
  assert.equal(Array.from(one), [
    64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97,
    112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125,
    125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
  ]);
  assert.equal(Array.from(writeSafetensors(new Map())), [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  assert.equal(Array.from(writeSafetensors(new Map(), { framework: 'pt' })), [
    40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34,
    58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
  ]);
});

test('write -> read -> write: same values, same bytes; names sorted; header padded to 8 with spaces', () => {
  const next = splitmix32(7);
  const random = (n: number) => Float32Array.from({ length: n }, () => next() / 2 ** 31 - 1);
  // Given out of order, with integer-like names that JSON.stringify would reorder, and a scalar.
  const entries: [string, { shape: number[]; data: Float32Array }][] = [
    ['z.weight', { shape: [3, 5], data: random(15) }],
    ['10', { shape: [2], data: random(2) }],
    ['2', { shape: [], data: random(1) }],
    ['a.bias', { shape: [0, 4], data: new Float32Array(0) }],
    ['a.b', { shape: [7], data: random(7) }],
  ];
  const bytes = writeSafetensors(entries, { format: 'pt', note: 'é' });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.is(headerLength % 8, 0);
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
  assert.ok(/^\{.*\} *$/.test(header), header);
  const keys = Object.keys(JSON.parse(header));
  assert.ok(header.indexOf('"__metadata__"') === 1, 'metadata first');
  assert.equal([...header.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]), ['10', '2', 'a.b', 'a.bias', 'z.weight']);
  assert.is(keys.length, 6);

  const file = readSafetensors(bytes, 'roundtrip');
  assert.equal(file.metadata, { format: 'pt', note: 'é' });
  for (const [name, { shape, data }] of entries) {
    const t = file.tensors.get(name)!;
    assert.equal(t.shape, shape, name);
    assert.equal(Array.from(t.data!), Array.from(data), name);
  }
  const again = writeSafetensors([...file.tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data! }] as const), file.metadata);
  assert.equal(Array.from(again), Array.from(bytes));
});

test('writeSafetensors refuses bad input with the tensor name', () => {
  assert.throws(() => writeSafetensors(new Map([['w', { shape: [2, 3], data: new Float32Array(5) }]])), /tensor 'w': shape \[2, 3\] has 6 elements, data has 5/);
  assert.throws(() => writeSafetensors([['w', { shape: [1], data: new Float32Array(1) }], ['w', { shape: [1], data: new Float32Array(1) }]]), /'w' given twice/);
  assert.throws(() => writeSafetensors(new Map([['__metadata__', { shape: [1], data: new Float32Array(1) }]])), /'__metadata__' cannot be a tensor name/);
  assert.throws(() => writeSafetensors(new Map([['w', { shape: [-1], data: new Float32Array(1) }]])), /tensor 'w': invalid shape/);
});

test('F16 converts exactly: named values, and every finite half is one ulp above the previous', () => {
  const named: [number, number][] = [
    [0x0000, 0], [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125], [0x7bff, 65504], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24],
    [0x0400, 2 ** -14], [0x7c00, Infinity], [0xfc00, -Infinity],
  ];
  for (const [bits, value] of named) assert.is(halfToFloat(bits), value, `0x${bits.toString(16)}`);
  assert.ok(Object.is(halfToFloat(0x8000), -0));
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  // Spacing: 2^-24 for subnormals and the first binade, then doubling with each exponent.
  for (let bits = 1; bits <= 0x7bff; bits++) {
    const exponent = (bits - 1) >> 10; // the gap below `bits` is the ulp of the binade of bits - 1
    const ulp = 2 ** (Math.max(exponent, 1) - 25);
    assert.is(halfToFloat(bits) - halfToFloat(bits - 1), ulp, `0x${bits.toString(16)}`);
    assert.is(halfToFloat(bits | 0x8000), -halfToFloat(bits));
  }
  // Through the reader: all 65,536 patterns in one F16 tensor.
  const all = new Uint16Array(65536).map((_, i) => i);
  const file = readSafetensors(buildFile({ h: { dtype: 'F16', shape: [256, 256], data_offsets: [0, 131072] } }, new Uint8Array(all.buffer)), 'f16');
  const data = file.tensors.get('h')!.data!;
  for (let i = 0; i < 65536; i++) assert.ok(Object.is(data[i], Math.fround(halfToFloat(i))) || (Number.isNaN(data[i]) && Number.isNaN(halfToFloat(i))));
});

test('BF16 and F64 convert exactly for representable values; toFloat64 keeps F64 exact', () => {
  const next = splitmix32(3);
  const n = 1000;
  const values = new Float32Array(n);
  const bits = new Uint32Array(values.buffer);
  for (let i = 0; i < n; i++) bits[i] = next() & 0xffff0000; // float32s with a bfloat16-exact mantissa
  for (let i = 0; i < n; i++) if (!Number.isFinite(values[i])) values[i] = 1.5; // drop NaN/inf patterns
  const bf16 = new Uint16Array(n).map((_, i) => bits[i] >>> 16);
  const f64 = new Float64Array(values);
  f64[0] = 0.1; // not a float32: rounds on conversion
  const file = readSafetensors(
    buildFile(
      { b: { dtype: 'BF16', shape: [n], data_offsets: [0, 2 * n] }, d: { dtype: 'F64', shape: [n], data_offsets: [2 * n, 10 * n] } },
      new Uint8Array([...new Uint8Array(bf16.buffer), ...new Uint8Array(f64.buffer)]),
    ),
    'bf16',
  );
  assert.equal(Array.from(file.tensors.get('b')!.data!), Array.from(values));
  const d = file.tensors.get('d')!;
  assert.equal(Array.from(d.data!).slice(1), Array.from(values).slice(1));
  assert.is(d.data![0], Math.fround(0.1));
  assert.equal(Array.from(toFloat64(d, 'd')), Array.from(f64));
  assert.throws(() => toInt32(d, 'd'), /tensor 'd' has dtype F64, not an integer type/);
});

test('toInt32 reads every integer dtype and refuses values outside int32', () => {
  const i64 = new BigInt64Array([0n, -5n, 2147483647n, -2147483648n]);
  const ok = readSafetensors(buildFile({ i: { dtype: 'I64', shape: [4], data_offsets: [0, 32] } }, new Uint8Array(i64.buffer)), 'i64');
  assert.equal(Array.from(toInt32(ok.tensors.get('i')!, 'i')), [0, -5, 2147483647, -2147483648]);
  const u16 = readSafetensors(buildFile({ u: { dtype: 'U16', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(new Uint16Array([65535, 7]).buffer)), 'u16');
  assert.equal(Array.from(toInt32(u16.tensors.get('u')!, 'u')), [65535, 7]);
  const big = readSafetensors(buildFile({ i: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(new BigInt64Array([2n ** 40n]).buffer)), 'big');
  assert.throws(() => toInt32(big.tensors.get('i')!, 'ids'), /tensor 'ids': element 0 is 1099511627776, outside int32/);
});

test('each malformed file gets its own error naming the file (and the tensor)', () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const data = f32Bytes([1, 2]);
  expectError(new Uint8Array(5), /file is 5 bytes, shorter than the 8-byte header length/);
  expectError(buildFile(ok, data, 10_000n), /header length 10000 runs past the end of the file \(\d+ bytes\)/);
  expectError(buildFile(ok, data, 2n ** 64n - 1n), /header length 18446744073709552000 is over the 100000000-byte limit/);
  expectError(buildFile(ok, data, BigInt(MAX_HEADER_BYTES + 1)), /is over the 100000000-byte limit/);
  expectError(buildFile(ok, data, 0n), /header length is 0/);
  const notUtf8 = buildFile('{"w" }', data);
  notUtf8[10] = 0xff;
  expectError(notUtf8, /header is not valid UTF-8/);
  expectError(buildFile('{"w": ', data), /header is not valid JSON/);
  expectError(buildFile([1, 2], data), /header is an array, not a JSON object/);
  expectError(buildFile('7', data), /header is a number, not a JSON object/);
  expectError(buildFile({ __metadata__: { format: 1 } }), /__metadata__\.format is a number, not a string/);
  expectError(buildFile({ __metadata__: ['pt'] }), /__metadata__ is an array, not an object of strings/);
  expectError(buildFile({ w: 'x' }, data), /tensor 'w': entry is a string, not an object/);
  expectError(buildFile({ w: { shape: [2], data_offsets: [0, 8] } }, data), /tensor 'w': missing dtype/);
  expectError(buildFile({ w: { dtype: 'F32', data_offsets: [0, 8] } }, data), /tensor 'w': missing shape/);
  expectError(buildFile({ w: { dtype: 'F32', shape: [2] } }, data), /tensor 'w': missing data_offsets/);
  expectError(buildFile({ w: { dtype: 'F128', shape: [2], data_offsets: [0, 8] } }, data), /tensor 'w': unknown dtype "F128"/);
  expectError(buildFile({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, data), /tensor 'w': shape \[-2\] is not a list of non-negative integers/);
  expectError(buildFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, data), /tensor 'w': shape \[1.5\] is not a list/);
  expectError(buildFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, data), /tensor 'w': data_offsets \[8,0\] is not \[begin, end\]/);
  expectError(buildFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8, 9] } }, data), /data_offsets \[0,8,9\] is not \[begin, end\]/);
  expectError(buildFile({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data), /tensor 'w': data_offsets \[0, 16\] run past the data section \(8 bytes\)/);
  expectError(buildFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data), /tensor 'w': shape \[3\] of F32 needs 12 bytes, data_offsets \[0, 8\] hold 8/);
  expectError(buildFile({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, data), /tensor 'w': shape \[1099511627776, 1099511627776\] of F32 needs/);
  expectError(
    buildFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data),
    /tensor 'b': data_offsets \[4, 8\] overlap tensor 'a' \(ends at 8\)/,
  );
  expectError(buildFile({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data), /tensor 'w': data_offsets \[4, 8\] leave a hole of 4 bytes after the header/);
  expectError(
    buildFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32Bytes([1, 2, 3])),
    /tensor 'b': data_offsets \[8, 12\] leave a hole of 4 bytes after tensor 'a'/,
  );
  expectError(buildFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, data), /data section is 8 bytes but the tensors cover 4/);
});

test('a key given twice in one object of the header is refused, naming the tensor (JSON.parse would keep the last)', () => {
  const w = (offsets: string) => `{"dtype":"F32","shape":[1],"data_offsets":${offsets}}`;
  const data = f32Bytes([1, 2]);
  const cases: [string, RegExp][] = [
    [`{"w":${w('[0,4]')},"w":${w('[4,8]')}}`, /^bad\.safetensors: tensor 'w' appears twice in the header$/], // was a "hole" error
    [`{"a":${w('[0,4]')},"w":${w('[4,8]')},"w":${w('[4,8]')}}`, /tensor 'w' appears twice in the header/], // was accepted
    [`{"a\\u0062":${w('[0,4]')},"ab":${w('[4,8]')}}`, /tensor 'ab' appears twice/], // equal once unescaped
    [`{"__metadata__":{},"__metadata__":{"format":"pt"},"a":${w('[0,4]')},"b":${w('[4,8]')}}`, /__metadata__ appears twice in the header/],
    [`{"__metadata__":{"format":"pt","format":"np"},"a":${w('[0,4]')},"b":${w('[4,8]')}}`, /__metadata__: key "format" appears twice/],
    [`{"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]},"b":${w('[4,8]')}}`, /tensor 'a': key "dtype" appears twice/],
  ];
  for (const [header, pattern] of cases) expectError(buildFile(header, data), pattern);
  // Quotes, commas and braces inside names, and one name in different objects, are not duplicates.
  const tricky = `{"a\\",\\"b":${w('[0,4]')},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8],"b":{"b":1,"x":[{"b":2}]}}}`;
  assert.equal([...readSafetensors(buildFile(tricky, data), 'tricky').tensors.keys()], ['a","b', 'b']);
});

test('an empty file with only a header, zero-size tensors and unknown entry fields are accepted', () => {
  assert.is(readSafetensors(buildFile({}), 'empty').tensors.size, 0);
  const file = readSafetensors(buildFile({ e: { dtype: 'F32', shape: [0, 3], data_offsets: [0, 0] }, w: { dtype: 'F32', shape: [1], data_offsets: [0, 4], extra: 1 } }, f32Bytes([9])), 'z');
  assert.equal(Array.from(file.tensors.get('e')!.data!), []);
  assert.equal(Array.from(file.tensors.get('w')!.data!), [9]);
});

// ---- Fuzz: corrupted variants of the fixture -------------------------------------------------

const FUZZ_CASES = 1000;
const fixtureHeaderLength = Number(new DataView(fixtureBytes.buffer, fixtureBytes.byteOffset).getBigUint64(0, true));
const fixtureHeader = JSON.parse(new TextDecoder().decode(fixtureBytes.subarray(8, 8 + fixtureHeaderLength))) as Record<string, Record<string, unknown>>;
const fixtureData = fixtureBytes.subarray(8 + fixtureHeaderLength);

/** One random edit of a parsed header (which it mutates). */
function mutateHeader(header: Record<string, unknown>, rand: (n: number) => number): void {
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = names[rand(names.length)];
  const entry = header[name] as Record<string, unknown>;
  const pick = <T>(xs: T[]): T => xs[rand(xs.length)];
  switch (rand(9)) {
    case 0: delete entry[pick(['dtype', 'shape', 'data_offsets'])]; break;
    case 1: entry.dtype = pick(['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'BOOL', 'F128', '', 5, null]); break;
    case 2: {
      const shape = [...(entry.shape as unknown[])];
      shape[rand(shape.length)] = pick([-1, 1.5, 2 ** 60, '3', null, 0, 1, 7]);
      entry.shape = pick([shape, [], [...shape, 2]]);
      break;
    }
    case 3: {
      const [b, e] = entry.data_offsets as number[];
      const k = pick([-4, -1, 1, 4, 128]);
      entry.data_offsets = pick([[b + k, e + k], [b, e + k], [e, b], [0, 2 ** 53], [b, e, e], [String(b), e], null]);
      break;
    }
    case 4: header[`${name}.copy`] = { ...entry }; break;
    case 5: delete header[name]; break;
    case 6: header.__metadata__ = pick([7, 'pt', null, [1], { format: 2 }, {}]); break;
    case 7: header[name] = pick([null, [], 'x', 3]); break;
    default: {
      const other = header[pick(names)] as Record<string, unknown>;
      [entry.data_offsets, other.data_offsets] = [other.data_offsets, entry.data_offsets];
    }
  }
}

function corrupt(rand: (n: number) => number, kind: number): Uint8Array {
  const bytes = fixtureBytes.slice();
  const flip = (start: number, end: number, count: number) => {
    for (let i = 0; i < count; i++) bytes[start + rand(end - start)] ^= 1 << rand(8);
  };
  switch (kind) {
    case 0: return bytes.subarray(0, rand(bytes.length)); // truncated
    case 1: flip(8, 8 + fixtureHeaderLength, 1 + rand(8)); return bytes; // header bytes
    case 2: flip(8 + fixtureHeaderLength, bytes.length, 1 + rand(64)); return bytes; // data bytes
    case 3: { // the length field
      const view = new DataView(bytes.buffer);
      const choices = [0n, 1n, 7n, BigInt(fixtureHeaderLength - 1), BigInt(fixtureHeaderLength + 8), BigInt(bytes.length), 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n];
      view.setBigUint64(0, choices[rand(choices.length)] ^ BigInt(rand(4)), true);
      return bytes;
    }
    case 4: { // JSON edits, re-serialised with a consistent length
      const header = structuredClone(fixtureHeader) as Record<string, unknown>;
      const edits = 1 + rand(3);
      for (let i = 0; i < edits; i++) mutateHeader(header, rand);
      return buildFile(header, fixtureData);
    }
    default: flip(0, 8 + fixtureHeaderLength, 1 + rand(4)); return bytes; // length field and header
  }
}

test(`fuzz: ${FUZZ_CASES} corrupted variants of the fixture each give a clear Error or a self-consistent file`, () => {
  const next = splitmix32(20260101);
  const rand = (n: number) => next() % n;
  const reference = readSafetensors(fixtureBytes, FIXTURE);
  const rssBefore = process.memoryUsage().rss;
  const outcomes = new Map<string, number>();
  for (let i = 0; i < FUZZ_CASES; i++) {
    const kind = i % 6;
    const bytes = corrupt(rand, kind);
    const source = `fuzz-${i}.safetensors`;
    let file: SafetensorsFile;
    try {
      file = readSafetensors(bytes, source);
    } catch (e) {
      // Our own error (the file named first), never a RangeError from a huge allocation or a TypeError.
      assert.ok(e instanceof Error && e.message.startsWith(`${source}: `), `case ${i} (kind ${kind}): ${String(e)}`);
      // The message with names and numbers blanked out: which check fired.
      const check = (e as Error).message.slice(source.length + 2).replace(/'[^']*'/g, "'…'").replace(/\(.*$|\[.*?\]|-?\d+(\.\d+)?(e[+-]?\d+)?/g, '#');
      outcomes.set(check, (outcomes.get(check) ?? 0) + 1);
      continue;
    }
    outcomes.set(`${kind}: parsed`, (outcomes.get(`${kind}: parsed`) ?? 0) + 1);
    let covered = 0;
    for (const [name, t] of file.tensors) {
      const count = product(t.shape);
      assert.is(t.raw.byteLength, count * DTYPE_SIZE[t.dtype], `case ${i}: ${name} bytes`);
      assert.ok(t.data === null || t.data.length === count, `case ${i}: ${name} elements`);
      covered += t.raw.byteLength;
    }
    const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    assert.is(covered, bytes.length - 8 - headerLength, `case ${i}: tensors tile the data section`);
    if (kind === 2) {
      // Only data bytes changed: the same tensors, names and shapes.
      assert.equal([...file.tensors.keys()], [...reference.tensors.keys()]);
      for (const [name, t] of file.tensors) assert.equal(t.shape, reference.tensors.get(name)!.shape);
    }
  }
  if (process.env.FUZZ_VERBOSE) console.log(outcomes);
  // Validation runs before any allocation, so 1,000 files cost little memory beyond their own bytes.
  const grownMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(grownMiB < 256, `resident memory grew ${grownMiB.toFixed(0)} MiB`);
  // Flipped data bytes leave a valid file: every one of those cases parses.
  assert.is(outcomes.get('2: parsed'), Array.from({ length: FUZZ_CASES }, (_, i) => i % 6 === 2).filter(Boolean).length);
  assert.ok(outcomes.size >= 20, `a variety of checks fired: ${[...outcomes.keys()].join(' | ')}`);
});

test.run();
