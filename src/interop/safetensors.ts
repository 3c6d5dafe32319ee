// A small reader/writer of the safetensors format (https://github.com/huggingface/safetensors):
//   8 bytes  little-endian u64 N, the length of the header
//   N bytes  UTF-8 JSON: { "__metadata__"?: {str: str}, NAME: {dtype, shape, data_offsets: [begin, end]} }
//   rest     the tensors' raw little-endian bytes; offsets are relative to the end of the header
// Works on in-memory bytes only (no file access), so it runs in browsers and in Node alike.

/** Data types this module reads (decoded to Float32Array / Float64Array / Int32Array…). */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** One tensor of a safetensors file. `data` is float32 for F32/F16/BF16, float64 for F64. */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | Int16Array | BigInt64Array;
}

/** A parsed safetensors file. */
export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** A tensor to write: float32 (default) or float64 values with a shape. */
export interface SafetensorsInput {
  shape: number[];
  data: Float32Array | Float64Array | number[];
  dtype?: 'F32' | 'F64';
}

const MAX_HEADER = 100 * 1024 * 1024;

function toBytes(source: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  throw new Error(
    `safetensors: expected an ArrayBuffer or a typed array / Buffer, got ${Object.prototype.toString.call(source)}.`,
  );
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** One tensor entry of a checked safetensors header (offsets relative to the data section). */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** A checked safetensors header: its length, its tensor entries and where the data section must end. */
export interface SafetensorsHeader {
  headerLength: number;
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Bytes the data section needs (the largest end offset). */
  dataLength: number;
}

/**
 * Reads and checks the header of a safetensors file of `fileLength` bytes from `bytes`, which
 * must hold at least its first 8 bytes (and the whole header once its length is known: call
 * again with more bytes when `bytes` is shorter than `8 + headerLength`; see
 * `safetensorsHeaderLength`). Every field is checked for type and range: dtypes are known
 * strings, shapes lists of safe integers, data_offsets two integers inside the file that span
 * exactly the tensor's bytes, tensors do not overlap, metadata values are strings.
 */
export function readSafetensorsHeader(bytes: Uint8Array, fileLength = bytes.byteLength): SafetensorsHeader {
  const headerLen = safetensorsHeaderLength(bytes, fileLength);
  if (bytes.byteLength < 8 + headerLen) {
    throw new Error(`safetensors: need the ${headerLen}-byte header, got ${bytes.byteLength - 8} bytes of it.`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`safetensors: the ${headerLen}-byte header is not valid UTF-8 JSON (${(e as Error).message}).`);
  }
  if (header == null || typeof header !== 'object' || Array.isArray(header)) {
    throw new Error('safetensors: the header must be a JSON object.');
  }
  const dataLen = fileLength - 8 - headerLen;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (entry == null || typeof entry !== 'object' || Array.isArray(entry) ||
          Object.values(entry).some((v) => typeof v !== 'string')) {
        throw new Error(`safetensors: __metadata__ must be an object of strings, got ${JSON.stringify(entry)}.`);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const known = typeof e.dtype === 'string' && Object.prototype.hasOwnProperty.call(BYTES, e.dtype);
    if (typeof entry !== 'object' || !known) {
      throw new Error(`safetensors: tensor '${name}' has unsupported dtype ${JSON.stringify(e.dtype)}; ` +
        `known: ${Object.keys(BYTES).join(', ')}.`);
    }
    const dtype = e.dtype as SafetensorsDtype;
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      throw new Error(`safetensors: tensor '${name}' has an invalid shape ${JSON.stringify(shape)}.`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o)) ||
        off[0] < 0 || off[0] > off[1] || off[1] > dataLen) {
      throw new Error(`safetensors: tensor '${name}' has data_offsets ${JSON.stringify(off)}: they must be two ` +
        `integers 0 ≤ begin ≤ end ≤ ${dataLen} (the data bytes); the file is truncated or corrupt.`);
    }
    const need = product(shape) * BYTES[dtype];
    if (off[1] - off[0] !== need) {
      throw new Error(`safetensors: tensor '${name}' (${dtype}, shape [${shape}]) needs ${need} bytes ` +
        `but its data_offsets span ${off[1] - off[0]}.`);
    }
    entries.push({ name, dtype, shape: [...shape], begin: off[0], end: off[1] });
  }
  const spans = [...entries].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].begin < spans[i - 1].end) {
      throw new Error(`safetensors: tensors '${spans[i - 1].name}' and '${spans[i].name}' overlap.`);
    }
  }
  return { headerLength: headerLen, entries, metadata, dataLength: Math.max(0, ...entries.map((e) => e.end)) };
}

/** The header length N of a safetensors file from its first 8 bytes; checked against the file and a 100 MB cap. */
export function safetensorsHeaderLength(bytes: Uint8Array, fileLength = bytes.byteLength): number {
  if (bytes.byteLength < 8 || fileLength < 8) {
    throw new Error(`safetensors: file of ${Math.min(fileLength, bytes.byteLength)} bytes is too short to hold the ` +
      '8-byte header length.');
  }
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, fileLength - 8))) {
    throw new Error(`safetensors: header length ${n} exceeds the file (${fileLength} bytes) or the 100 MB limit; ` +
      'the file is truncated or not a safetensors file.');
  }
  return Number(n);
}

/**
 * Parses a safetensors file held in memory. Throws a descriptive error on a truncated or
 * malformed file (see `readSafetensorsHeader` for what is checked).
 */
export function readSafetensors(source: ArrayBuffer | ArrayBufferView): SafetensorsFile {
  const bytes = toBytes(source);
  const header = readSafetensorsHeader(bytes);
  const dataStart = 8 + header.headerLength;
  const tensors = new Map<string, SafetensorsTensor>();
  for (const { name, dtype, shape, begin } of header.entries) {
    tensors.set(name, { dtype, shape, data: decode(bytes, dataStart + begin, product(shape), dtype) });
  }
  return { tensors, metadata: header.metadata };
}

function decode(bytes: Uint8Array, start: number, count: number, dtype: SafetensorsDtype): SafetensorsTensor['data'] {
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, count * BYTES[dtype]);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case 'F64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(count);
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        tmp.setUint32(0, view.getUint16(2 * i, true) << 16, false);
        out[i] = tmp.getFloat32(0, false);
      }
      return out;
    }
    case 'I64': {
      const out = new BigInt64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getBigInt64(8 * i, true);
      return out;
    }
    case 'I32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    }
    case 'I16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, true);
      return out;
    }
    case 'I8': return new Int8Array(bytes.slice(start, start + count).buffer);
    case 'U8':
    case 'BOOL': return bytes.slice(start, start + count);
  }
}

/**
 * Serializes tensors to the safetensors format (F32 by default, or F64), in the given order,
 * with the header padded by spaces to a multiple of 8 bytes as the reference implementation does.
 * `metadata` values must be strings (format rule).
 */
export function writeSafetensors(tensors: Record<string, SafetensorsInput>,
                                 metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new Error(`safetensors: metadata value of '${k}' must be a string, got ${typeof v}.`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const parts: Array<{ start: number; t: SafetensorsInput; dtype: 'F32' | 'F64'; count: number }> = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new Error("safetensors: '__metadata__' is reserved and cannot name a tensor.");
    const dtype = t.dtype ?? (t.data instanceof Float64Array ? 'F64' : 'F32');
    const count = product(t.shape);
    if (t.data.length !== count) {
      throw new Error(
        `safetensors: tensor '${name}' has ${t.data.length} values but shape [${t.shape}] needs ${count}.`,
      );
    }
    const size = count * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    parts.push({ start: offset, t, dtype, count });
    offset += size;
  }
  let json = JSON.stringify(header);
  let headerBytes = new TextEncoder().encode(json);
  const pad = (8 - (headerBytes.byteLength % 8)) % 8;
  if (pad > 0) {
    json += ' '.repeat(pad);
    headerBytes = new TextEncoder().encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  const base = 8 + headerBytes.byteLength;
  for (const { start, t, dtype, count } of parts) {
    for (let i = 0; i < count; i++) {
      if (dtype === 'F32') view.setFloat32(base + start + 4 * i, t.data[i], true);
      else view.setFloat64(base + start + 8 * i, t.data[i], true);
    }
  }
  return out;
}
