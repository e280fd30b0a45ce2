// The Tensor type: a thin TypeScript face over a libtorch tensor in the addon.
// Every op returns a new Tensor registered with the current scope (see scope.ts); libtorch
// records autograd for ops whose inputs require grad. Shapes are written (B, T, C) in comments.
// The free functions live beside it: factories.ts, random.ts, functional.ts, runtime.ts.
import { type DType, type Handle, native } from "./native.js";
import { track } from "./scope.js";

export type { DType } from "./native.js";
export type Shape = readonly number[];
type Operand = Tensor | number;

export class EngineError extends Error {
  override name = "EngineError";
}

export class Tensor {
  kept = false;
  #shape: number[] | undefined;

  /** Wraps a raw handle; use the factory functions instead. */
  constructor(readonly handle: Handle) {
    track(this);
  }

  get shape(): number[] {
    if (this.#shape === undefined) this.#shape = native.shape(this.handle);
    return this.#shape;
  }
  get rank(): number {
    return this.shape.length;
  }
  /** Size of one dimension; negative dims count from the end. */
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? s.length + dim : dim;
    if (d < 0 || d >= s.length) throw new EngineError(`size: dim ${dim} out of range for shape [${s}]`);
    return s[d];
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get dtype(): DType {
    return native.dtype(this.handle);
  }
  /** libtorch's version counter: bumped by every in-place write (optimizer steps, assign). */
  get version(): number {
    return native.tensorVersion(this.handle);
  }
  get isDisposed(): boolean {
    return native.isDisposed(this.handle);
  }
  /** Frees the tensor's memory now; using it afterwards throws "use after free". */
  dispose(): void {
    native.dispose(this.handle);
  }

  // --- data out ---------------------------------------------------------------------------
  toFloat32(): Float32Array {
    return new Float32Array(this.#bufferAs("float32"));
  }
  toFloat64(): Float64Array {
    return new Float64Array(this.#bufferAs("float64"));
  }
  toInt64(): BigInt64Array {
    return new BigInt64Array(this.#bufferAs("int64"));
  }
  /** The data converted to dtype; a converted copy is freed at once (it belongs to no scope). */
  #bufferAs(dtype: DType): ArrayBuffer {
    if (this.dtype === dtype) return native.toBuffer(this.handle);
    const converted = native.toDtype(this.handle, dtype);
    try {
      return native.toBuffer(converted);
    } finally {
      native.dispose(converted);
    }
  }
  /** Values as plain numbers (int64 values beyond 2^53 lose precision). */
  toArray(): number[] {
    const dtype = this.dtype;
    if (dtype === "int64") return Array.from(this.toInt64(), Number);
    if (dtype === "bool") return Array.from(new Uint8Array(native.toBuffer(this.handle)));
    return Array.from(dtype === "float64" ? this.toFloat64() : this.toFloat32());
  }
  item(): number {
    return native.item(this.handle);
  }

  // --- layout -----------------------------------------------------------------------------
  reshape(shape: Shape): Tensor {
    return wrap(native.reshape(this.handle, [...shape]));
  }
  transpose(a: number, b: number): Tensor {
    return wrap(native.transpose(this.handle, a, b));
  }
  permute(dims: Shape): Tensor {
    return wrap(native.permute(this.handle, [...dims]));
  }
  /** Elements start..end (exclusive) along dim; negative bounds count from the end. */
  slice(dim: number, start: number, end: number = Number.MAX_SAFE_INTEGER, step = 1): Tensor {
    return wrap(native.slice(this.handle, dim, start, end, step));
  }
  select(dim: number, index: number): Tensor {
    return wrap(native.select(this.handle, dim, index));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(native.unsqueeze(this.handle, dim));
  }
  squeeze(dim: number): Tensor {
    return wrap(native.squeeze(this.handle, dim));
  }
  expand(shape: Shape): Tensor {
    return wrap(native.expand(this.handle, [...shape]));
  }
  contiguous(): Tensor {
    return wrap(native.contiguous(this.handle));
  }
  clone(): Tensor {
    return wrap(native.clone(this.handle));
  }
  detach(): Tensor {
    return wrap(native.detach(this.handle));
  }
  to(dtype: DType): Tensor {
    return wrap(native.toDtype(this.handle, dtype));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(native.indexSelect(this.handle, dim, index.handle));
  }
  gather(dim: number, index: Tensor): Tensor {
    return wrap(native.gather(this.handle, dim, index.handle));
  }
  /** Where mask is true, value; elsewhere this tensor. */
  maskedFill(mask: Tensor, value: number): Tensor {
    return wrap(native.maskedFill(this.handle, mask.handle, value));
  }
  triu(k = 0): Tensor {
    return wrap(native.triu(this.handle, k));
  }
  tril(k = 0): Tensor {
    return wrap(native.tril(this.handle, k));
  }
  repeatInterleave(repeats: number, dim: number): Tensor {
    return wrap(native.repeatInterleave(this.handle, repeats, dim));
  }
  flip(dims: Shape): Tensor {
    return wrap(native.flip(this.handle, [...dims]));
  }

  // --- elementwise (broadcasting) -----------------------------------------------------------
  add(other: Operand): Tensor {
    return wrap(
      typeof other === "number" ? native.addScalar(this.handle, other) : native.add(this.handle, other.handle),
    );
  }
  sub(other: Operand): Tensor {
    return wrap(
      typeof other === "number" ? native.addScalar(this.handle, -other) : native.sub(this.handle, other.handle),
    );
  }
  mul(other: Operand): Tensor {
    return wrap(
      typeof other === "number" ? native.mulScalar(this.handle, other) : native.mul(this.handle, other.handle),
    );
  }
  div(other: Operand): Tensor {
    return wrap(
      typeof other === "number" ? native.mulScalar(this.handle, 1 / other) : native.div(this.handle, other.handle),
    );
  }
  /** s - this */
  rsub(s: number): Tensor {
    return wrap(native.rsubScalar(this.handle, s));
  }
  pow(exponent: number): Tensor {
    return wrap(native.powScalar(this.handle, exponent));
  }
  maximum(other: Tensor): Tensor {
    return wrap(native.maximum(this.handle, other.handle));
  }
  minimum(other: Tensor): Tensor {
    return wrap(native.minimum(this.handle, other.handle));
  }
  neg(): Tensor {
    return wrap(native.neg(this.handle));
  }
  exp(): Tensor {
    return wrap(native.exp(this.handle));
  }
  log(): Tensor {
    return wrap(native.log(this.handle));
  }
  tanh(): Tensor {
    return wrap(native.tanh(this.handle));
  }
  sigmoid(): Tensor {
    return wrap(native.sigmoid(this.handle));
  }
  logSigmoid(): Tensor {
    return wrap(native.logSigmoid(this.handle));
  }
  relu(): Tensor {
    return wrap(native.relu(this.handle));
  }
  /** GELU; exact (erf) by default, or the tanh approximation. */
  gelu(approximate: "none" | "tanh" = "none"): Tensor {
    return wrap(native.gelu(this.handle, approximate === "tanh"));
  }
  silu(): Tensor {
    return wrap(native.silu(this.handle));
  }
  sqrt(): Tensor {
    return wrap(native.sqrt(this.handle));
  }
  rsqrt(): Tensor {
    return wrap(native.rsqrt(this.handle));
  }
  abs(): Tensor {
    return wrap(native.abs(this.handle));
  }
  sin(): Tensor {
    return wrap(native.sin(this.handle));
  }
  cos(): Tensor {
    return wrap(native.cos(this.handle));
  }
  clamp(min: number | null, max: number | null = null): Tensor {
    return wrap(native.clamp(this.handle, min, max));
  }
  isFinite(): Tensor {
    return wrap(native.isFinite(this.handle));
  }
  eq(other: Operand): Tensor {
    return wrap(native.eq(this.handle, operand(other)));
  }
  ne(other: Operand): Tensor {
    return wrap(native.ne(this.handle, operand(other)));
  }
  lt(other: Operand): Tensor {
    return wrap(native.lt(this.handle, operand(other)));
  }
  le(other: Operand): Tensor {
    return wrap(native.le(this.handle, operand(other)));
  }
  gt(other: Operand): Tensor {
    return wrap(native.gt(this.handle, operand(other)));
  }
  ge(other: Operand): Tensor {
    return wrap(native.ge(this.handle, operand(other)));
  }
  and(other: Tensor): Tensor {
    return wrap(native.logicalAnd(this.handle, other.handle));
  }
  or(other: Tensor): Tensor {
    return wrap(native.logicalOr(this.handle, other.handle));
  }
  not(): Tensor {
    return wrap(native.logicalNot(this.handle));
  }

  // --- linear algebra and reductions ----------------------------------------------------------
  matmul(other: Tensor): Tensor {
    return wrap(native.matmul(this.handle, other.handle));
  }
  bmm(other: Tensor): Tensor {
    return wrap(native.bmm(this.handle, other.handle));
  }
  /** Sum over dims (all when omitted). */
  sum(dims?: number | Shape, keepdim = false): Tensor {
    return wrap(native.sum(this.handle, dimList(dims), keepdim));
  }
  mean(dims?: number | Shape, keepdim = false): Tensor {
    return wrap(native.mean(this.handle, dimList(dims), keepdim));
  }
  /** Largest value of the whole tensor (a scalar tensor). */
  maxAll(): Tensor {
    return wrap(native.maxAll(this.handle));
  }
  max(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = native.max(this.handle, dim, keepdim);
    return { values: wrap(values), indices: wrap(indices) };
  }
  min(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = native.min(this.handle, dim, keepdim);
    return { values: wrap(values), indices: wrap(indices) };
  }
  argmax(dim: number, keepdim = false): Tensor {
    return wrap(native.argmax(this.handle, dim, keepdim));
  }
  /** The k largest along dim, largest first. */
  topk(k: number, dim = -1): { values: Tensor; indices: Tensor } {
    const [values, indices] = native.topk(this.handle, k, dim);
    return { values: wrap(values), indices: wrap(indices) };
  }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = native.sort(this.handle, dim, descending);
    return { values: wrap(values), indices: wrap(indices) };
  }
  cumsum(dim: number): Tensor {
    return wrap(native.cumsum(this.handle, dim));
  }
  logsumexp(dims: number | Shape, keepdim = false): Tensor {
    return wrap(native.logsumexp(this.handle, dimList(dims) ?? [], keepdim));
  }
  softmax(dim: number): Tensor {
    return wrap(native.softmax(this.handle, dim));
  }
  logSoftmax(dim: number): Tensor {
    return wrap(native.logSoftmax(this.handle, dim));
  }

  // --- autograd ---------------------------------------------------------------------------
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  /** Marks a leaf tensor as a parameter whose gradient backward() accumulates. */
  requiresGrad_(flag = true): this {
    native.setRequiresGrad(this.handle, flag);
    return this;
  }
  /** Back-propagates from this (scalar) tensor, or with the given output gradient. */
  backward(gradient?: Tensor): void {
    native.backward(this.handle, gradient?.handle ?? null);
  }
  /** The accumulated gradient (a new handle each call), or null when none has been computed. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : wrap(g);
  }
  /** Copies src into this tensor in place, outside autograd (loading weights, restoring state). */
  assign(src: Tensor): this {
    native.assign(this.handle, src.handle);
    return this;
  }
  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(", ")}])`;
  }
}

/** Wraps a handle the addon returned (internal to the engine: index.ts does not export it). */
export function wrap(handle: Handle): Tensor {
  return new Tensor(handle);
}

function operand(other: Operand): Handle | number {
  return typeof other === "number" ? other : other.handle;
}
function dimList(dims: number | Shape | undefined): number[] | null {
  if (dims === undefined) return null;
  return typeof dims === "number" ? [dims] : [...dims];
}

/** The shape as a mutable array, each dimension checked (internal to the engine). */
export function checkShape(shape: Shape, what: string): number[] {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new EngineError(`${what}: shape [${shape}] must hold non-negative integers`);
  }
  return [...shape];
}
