import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { endianness } from "node:os";
import { type DType, type Tensor, tensorFrom } from "../engine/index.js";
import { writeFileAtomic as writeAtomic } from "../util/atomic-file.js";

if (endianness() !== "LE")
  throw new Error("safetensors: this host is big-endian; only little-endian hosts are supported");

/** The dtypes a RawTensor holds (F16/BF16 and narrow integers are widened on read). */
export type RawDType = "F32" | "F64" | "I64" | "BOOL";
export type RawData = Float32Array | Float64Array | BigInt64Array | Uint8Array;
/** A tensor in host memory: row-major data, BOOL as one byte (0 or 1) per element. */
export interface RawTensor {
  dtype: RawDType;
  shape: number[];
  data: RawData;
}
export interface SafetensorsFile {
  tensors: Map<string, RawTensor>;
  /** The header's `__metadata__`, or {} when absent. */
  metadata: Record<string, string>;
}

/** A malformed checkpoint file (safetensors, tokenizer.json, config.json) or a state mismatch. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
  constructor(
    readonly file: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(`${file}: ${tensor === undefined ? "" : `tensor "${tensor}": `}${message}`);
  }
}

/** The reference reader's limit: a larger header is refused before it is allocated. */
export const MAX_HEADER_BYTES = 100_000_000;

const ARRAY_OF = { F32: Float32Array, F64: Float64Array, I64: BigInt64Array, BOOL: Uint8Array } as const;
const ITEMSIZE: Record<RawDType, number> = { F32: 4, F64: 8, I64: 8, BOOL: 1 };

// --- decoding ---------------------------------------------------------------------------------

/** A fresh, 0-offset copy: file bytes are not aligned for typed-array views. */
function own(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}

/** IEEE half precision to single (exact: every f16 is an f32). */
function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** bfloat16 is the top half of a float32. */
function bf16ToF32(bits: Uint16Array): Float32Array {
  const words = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16;
  return new Float32Array(words.buffer);
}

interface Decoder {
  itemsize: number;
  decode(bytes: Uint8Array): { dtype: RawDType; data: RawData };
}
const toI64 = (values: ArrayLike<number>) => ({ dtype: "I64" as const, data: BigInt64Array.from(values, BigInt) });

/** The dtypes we read; each is decoded into one of the four RawTensor dtypes. */
const DECODERS: Record<string, Decoder> = {
  F32: { itemsize: 4, decode: (b) => ({ dtype: "F32", data: new Float32Array(own(b)) }) },
  F64: { itemsize: 8, decode: (b) => ({ dtype: "F64", data: new Float64Array(own(b)) }) },
  I64: { itemsize: 8, decode: (b) => ({ dtype: "I64", data: new BigInt64Array(own(b)) }) },
  BOOL: { itemsize: 1, decode: (b) => ({ dtype: "BOOL", data: new Uint8Array(own(b)) }) },
  F16: { itemsize: 2, decode: (b) => ({ dtype: "F32", data: f16ToF32(new Uint16Array(own(b))) }) },
  BF16: { itemsize: 2, decode: (b) => ({ dtype: "F32", data: bf16ToF32(new Uint16Array(own(b))) }) },
  I32: { itemsize: 4, decode: (b) => toI64(new Int32Array(own(b))) },
  I16: { itemsize: 2, decode: (b) => toI64(new Int16Array(own(b))) },
  I8: { itemsize: 1, decode: (b) => toI64(new Int8Array(own(b))) },
  U32: { itemsize: 4, decode: (b) => toI64(new Uint32Array(own(b))) },
  U16: { itemsize: 2, decode: (b) => toI64(new Uint16Array(own(b))) },
  U8: { itemsize: 1, decode: (b) => toI64(new Uint8Array(own(b))) },
};

// --- reading ----------------------------------------------------------------------------------

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readBytes(fd: number, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let done = 0; done < length; ) {
    const n = readSync(fd, out, done, length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += n;
  }
  return out;
}

/** The header length N, checked against the file size and the 100 MB limit. */
function readHeaderLength(fd: number, size: number, file: string): number {
  if (size < 8) throw new CheckpointError(file, `file is ${size} bytes, shorter than the 8-byte header size`);
  const n = new DataView(own(readBytes(fd, 0, 8))).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(file, `header size ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  if (n > BigInt(size - 8)) {
    throw new CheckpointError(file, `header size ${n} is larger than the ${size - 8} bytes after the size field`);
  }
  return Number(n);
}

function parseHeader(bytes: Uint8Array, file: string): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new CheckpointError(file, "header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(file, `header is not JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(header)) throw new CheckpointError(file, "header is not a JSON object");
  return header;
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  const metadata: Record<string, string> = Object.create(null);
  if (value === undefined || value === null) return metadata;
  if (!isPlainObject(value)) throw new CheckpointError(file, "__metadata__ is not an object");
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") {
      throw new CheckpointError(file, `__metadata__ "${key}" is ${JSON.stringify(v)}, not a string`);
    }
    metadata[key] = v;
  }
  return metadata;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Checks one header entry on its own: fields, dtype, shape, offsets within the data region. */
function parseEntry(name: string, value: unknown, dataLength: number, file: string): Entry {
  const fail = (message: string) => new CheckpointError(file, message, name);
  if (!isPlainObject(value)) throw fail("header entry is not an object");
  const { dtype, shape, data_offsets: offsets } = value;
  if (dtype === undefined) throw fail("header entry lacks dtype");
  if (shape === undefined) throw fail("header entry lacks shape");
  if (offsets === undefined) throw fail("header entry lacks data_offsets");
  if (typeof dtype !== "string" || !(dtype in DECODERS)) {
    throw fail(`unknown dtype ${JSON.stringify(dtype)} (readable: ${Object.keys(DECODERS).join(", ")})`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw fail(`shape ${JSON.stringify(shape)} must be a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw fail(`data_offsets ${JSON.stringify(offsets)} must be [begin, end] of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw fail(`data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLength) {
    throw fail(`data_offsets [${begin}, ${end}] run past the data region (${dataLength} bytes)`);
  }
  const need = shape.reduce((a: number, b: number) => a * b, 1) * DECODERS[dtype].itemsize;
  if (end - begin !== need) {
    throw fail(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} shape [${shape}] needs ${need}`);
  }
  return { name, dtype, shape, begin, end };
}

/** The entries must tile [0, dataLength) exactly: no overlap, no hole, nothing after the last. */
function checkTiling(entries: Entry[], dataLength: number, file: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < expected) {
      throw new CheckpointError(file, `data_offsets [${e.begin}, ${e.end}] overlap tensor "${previous?.name}"`, e.name);
    }
    if (e.begin > expected) {
      throw new CheckpointError(
        file,
        `data_offsets [${e.begin}, ${e.end}] leave a hole of bytes [${expected}, ${e.begin})`,
        e.name,
      );
    }
    expected = e.end;
    previous = e;
  }
  if (expected < dataLength) {
    const after = previous === undefined ? "with no tensors" : `after tensor "${previous.name}"`;
    throw new CheckpointError(file, `${dataLength - expected} trailing bytes in the data region ${after}`);
  }
}

function decodeEntry(e: Entry, data: Uint8Array, file: string): RawTensor {
  const raw = { ...DECODERS[e.dtype].decode(data.subarray(e.begin, e.end)), shape: e.shape };
  if (raw.dtype === "BOOL") {
    const bad = (raw.data as Uint8Array).findIndex((b) => b > 1);
    if (bad >= 0) throw new CheckpointError(file, `BOOL element ${bad} is byte ${raw.data[bad]}, not 0 or 1`, e.name);
  }
  return raw;
}

/** Reads a whole safetensors file, validating it first; every failure names the file (and tensor). */
export function readSafetensors(path: string): SafetensorsFile {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw new CheckpointError(path, `cannot open (${(error as Error).message})`);
  }
  try {
    const size = fstatSync(fd).size;
    const headerLength = readHeaderLength(fd, size, path);
    const header = parseHeader(readBytes(fd, 8, headerLength), path);
    const dataLength = size - 8 - headerLength;
    const metadata = parseMetadata(header.__metadata__, path);
    const entries = Object.entries(header)
      .filter(([name]) => name !== "__metadata__")
      .map(([name, value]) => parseEntry(name, value, dataLength, path));
    checkTiling(entries, dataLength, path);
    const data = readBytes(fd, 8 + headerLength, dataLength);
    const tensors = new Map<string, RawTensor>();
    for (const e of entries.sort((a, b) => compareNames(a.name, b.name)))
      tensors.set(e.name, decodeEntry(e, data, path));
    return { tensors, metadata: { ...metadata } };
  } finally {
    closeSync(fd);
  }
}

// --- writing ----------------------------------------------------------------------------------

/** Code-unit order: deterministic and locale-independent (as Rust sorts its strings). */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Throws unless raw is a well-formed RawTensor (right array type and length for its shape). */
export function checkRawTensor(raw: RawTensor, file: string, name: string): void {
  const fail = (message: string) => new CheckpointError(file, message, name);
  if (!(raw.dtype in ARRAY_OF)) throw fail(`dtype ${JSON.stringify(raw.dtype)} is not one of F32, F64, I64, BOOL`);
  if (!Array.isArray(raw.shape) || !raw.shape.every(isCount)) {
    throw fail(`shape ${JSON.stringify(raw.shape)} must be a list of non-negative integers`);
  }
  const expected = ARRAY_OF[raw.dtype];
  if (!(raw.data instanceof expected)) {
    throw fail(`data is a ${raw.data?.constructor?.name}, expected ${expected.name} for ${raw.dtype}`);
  }
  const numel = raw.shape.reduce((a, b) => a * b, 1);
  if (raw.data.length !== numel) throw fail(`${raw.data.length} values do not fill shape [${raw.shape}] (${numel})`);
}

function entriesOf(tensors: Map<string, RawTensor> | Record<string, RawTensor>): [string, RawTensor][] {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  return list.sort(([a], [b]) => compareNames(a, b));
}

/** The header bytes as the reference writer lays them out: compact JSON, `__metadata__` first, space-padded. */
function encodeHeader(entries: [string, RawTensor][], metadata: Record<string, string> | undefined): Uint8Array {
  const parts: string[] = [];
  if (metadata !== undefined) {
    const sorted = Object.keys(metadata).sort(compareNames);
    parts.push(
      `"__metadata__":{${sorted.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(",")}}`,
    );
  }
  let offset = 0;
  for (const [name, raw] of entries) {
    const end = offset + raw.data.length * ITEMSIZE[raw.dtype];
    // Built by hand, not from an object: a tensor named "__proto__" must stay an ordinary key.
    parts.push(
      `${JSON.stringify(name)}:${JSON.stringify({ dtype: raw.dtype, shape: raw.shape, data_offsets: [offset, end] })}`,
    );
    offset = end;
  }
  const json = Buffer.from(`{${parts.join(",")}}`, "utf8");
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, " ");
  json.copy(padded);
  return padded;
}

/**
 * Writes tensors (sorted by name) and optional string metadata to path, atomically: a temp file
 * beside it is written, synced, then renamed over path, so readers never see half a file.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): void {
  const entries = entriesOf(tensors);
  for (const [name, raw] of entries) {
    if (name === "__metadata__") throw new CheckpointError(path, "this name is reserved for the metadata", name);
    checkRawTensor(raw, path, name);
  }
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (typeof value !== "string") throw new CheckpointError(path, `__metadata__ "${key}" is not a string`);
  }
  const header = encodeHeader(entries, metadata);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(header.length));
  const data = entries.map(([, raw]) => new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength));
  writeFileAtomic(path, [size, header, ...data]);
}

/** Writes chunks to path through a synced temp file and a rename (shared by the checkpoint writers). */
export function writeFileAtomic(path: string, chunks: Uint8Array[]): void {
  try {
    writeAtomic(path, chunks);
  } catch (error) {
    throw new CheckpointError(path, `cannot write (${(error as Error).message})`);
  }
}

// --- engine conversion --------------------------------------------------------------------------

const ENGINE_DTYPE: Record<RawDType, DType> = { F32: "float32", F64: "float64", I64: "int64", BOOL: "bool" };
const RAW_DTYPE: Record<DType, RawDType> = { float32: "F32", float64: "F64", int64: "I64", bool: "BOOL" };

/** The engine dtype a RawTensor dtype loads as. */
export function engineDType(dtype: RawDType): DType {
  return ENGINE_DTYPE[dtype];
}

/** A new engine tensor holding a copy of raw (registered with the current scope). */
export function toEngine(raw: RawTensor, name = "tensor"): Tensor {
  checkRawTensor(raw, "toEngine", name);
  return tensorFrom(raw.data, raw.shape);
}

/** A host copy of an engine tensor's values. */
export function fromEngine(t: Tensor): RawTensor {
  const dtype = RAW_DTYPE[t.dtype];
  const shape = [...t.shape];
  switch (dtype) {
    case "F32":
      return { dtype, shape, data: t.toFloat32() };
    case "F64":
      return { dtype, shape, data: t.toFloat64() };
    case "I64":
      return { dtype, shape, data: t.toInt64() };
    case "BOOL":
      return { dtype, shape, data: Uint8Array.from(t.toArray()) };
  }
}
