// Loads the engine addon (native/, built at install by node-gyp) and types its raw functions.
// Nothing outside src/engine/ touches these: use the Tensor API (index.ts).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chooseOpenblasCore } from "./blas.js";

/** Opaque handle to a libtorch tensor owned by the addon. */
export type Handle = { readonly __brand: "TensorHandle" };
/** Opaque handle to a seeded libtorch CPU generator. */
export type GeneratorHandle = { readonly __brand: "GeneratorHandle" };
/** Opaque handle to a cache of concatenated weights (fused projections). */
export type WeightCacheHandle = { readonly __brand: "WeightCacheHandle" };
export type DType = "float32" | "float64" | "int64" | "bool";

type H = Handle;
export interface NativeEngine {
  version(): string;
  blasCore(): string | null;
  fromBuffer(data: ArrayBufferView, shape: number[], dtype: DType): H;
  toBuffer(t: H): ArrayBuffer;
  shape(t: H): number[];
  dtype(t: H): DType;
  item(t: H): number;
  dispose(t: H): void;
  isDisposed(t: H): boolean;
  liveTensors(): number;
  heldTensors(): number;
  newGenerator(seed: number): GeneratorHandle;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  setGradEnabled(enabled: boolean): boolean;
  isGradEnabled(): boolean;

  zeros(shape: number[], dtype: DType): H;
  ones(shape: number[], dtype: DType): H;
  full(shape: number[], value: number, dtype: DType): H;
  arange(start: number, end: number, step: number, dtype: DType): H;
  randn(shape: number[], gen: GeneratorHandle, dtype: DType): H;
  rand(shape: number[], gen: GeneratorHandle, dtype: DType): H;
  multinomial(probs: H, n: number, replacement: boolean, gen: GeneratorHandle): H;
  bernoulli(probs: H, gen: GeneratorHandle): H;

  reshape(t: H, shape: number[]): H;
  transpose(t: H, a: number, b: number): H;
  permute(t: H, dims: number[]): H;
  slice(t: H, dim: number, start: number, end: number, step: number): H;
  select(t: H, dim: number, index: number): H;
  unsqueeze(t: H, dim: number): H;
  squeeze(t: H, dim: number): H;
  expand(t: H, shape: number[]): H;
  contiguous(t: H): H;
  clone(t: H): H;
  detach(t: H): H;
  toDtype(t: H, dtype: DType): H;
  cat(ts: H[], dim: number): H;
  stack(ts: H[], dim: number): H;
  indexSelect(t: H, dim: number, index: H): H;
  gather(t: H, dim: number, index: H): H;
  maskedFill(t: H, mask: H, value: number): H;
  where(cond: H, a: H, b: H): H;
  triu(t: H, k: number): H;
  tril(t: H, k: number): H;
  repeatInterleave(t: H, repeats: number, dim: number): H;
  flip(t: H, dims: number[]): H;

  add(a: H, b: H): H;
  sub(a: H, b: H): H;
  mul(a: H, b: H): H;
  div(a: H, b: H): H;
  maximum(a: H, b: H): H;
  minimum(a: H, b: H): H;
  addScalar(a: H, s: number): H;
  mulScalar(a: H, s: number): H;
  powScalar(a: H, s: number): H;
  rsubScalar(a: H, s: number): H;
  neg(t: H): H;
  exp(t: H): H;
  log(t: H): H;
  tanh(t: H): H;
  sigmoid(t: H): H;
  logSigmoid(t: H): H;
  relu(t: H): H;
  gelu(t: H, tanhApproximation: boolean): H;
  silu(t: H): H;
  sqrt(t: H): H;
  rsqrt(t: H): H;
  abs(t: H): H;
  sin(t: H): H;
  cos(t: H): H;
  clamp(t: H, min: number | null, max: number | null): H;
  isFinite(t: H): H;
  eq(a: H, b: H | number): H;
  ne(a: H, b: H | number): H;
  lt(a: H, b: H | number): H;
  le(a: H, b: H | number): H;
  gt(a: H, b: H | number): H;
  ge(a: H, b: H | number): H;
  logicalAnd(a: H, b: H): H;
  logicalOr(a: H, b: H): H;
  logicalNot(t: H): H;

  matmul(a: H, b: H): H;
  bmm(a: H, b: H): H;
  linear(x: H, w: H, b: H | null): H;
  conv2d(x: H, w: H, b: H | null, stride: number, padding: number): H;

  sum(t: H, dims: number[] | null, keepdim: boolean): H;
  mean(t: H, dims: number[] | null, keepdim: boolean): H;
  maxAll(t: H): H;
  max(t: H, dim: number, keepdim: boolean): [H, H];
  min(t: H, dim: number, keepdim: boolean): [H, H];
  argmax(t: H, dim: number, keepdim: boolean): H;
  topk(t: H, k: number, dim: number): [H, H];
  sort(t: H, dim: number, descending: boolean): [H, H];
  cumsum(t: H, dim: number): H;
  logsumexp(t: H, dims: number[], keepdim: boolean): H;

  softmax(t: H, dim: number): H;
  logSoftmax(t: H, dim: number): H;
  layerNorm(x: H, shape: number[], w: H | null, b: H | null, eps: number): H;
  embedding(weight: H, ids: H): H;
  crossEntropy(logits: H, targets: H, ignoreIndex: number, reduction: "mean" | "sum" | "none"): H;
  dropout(x: H, p: number, gen: GeneratorHandle): H;
  rmsNorm(x: H, weight: H, eps: number): H;
  rotary(x: H, cos: H, sin: H): H;
  attention(q: H, k: H, v: H, mask: H | null): H;
  swiglu(x: H, gate: H, up: H, down: H): H;

  newWeightCache(): WeightCacheHandle;
  disposeWeightCache(cache: WeightCacheHandle): void;
  tensorVersion(t: H): number;
  attentionBlock(
    x: H,
    cache: WeightCacheHandle | null,
    weights: H[],
    biases: H[] | null,
    wo: H,
    bo: H | null,
    cos: H | null,
    sin: H | null,
    pastK: H | null,
    pastV: H | null,
    mask: H | null,
    heads: number,
    pastLength: number | null,
  ): [H, H, H];
  swigluFused(x: H, cache: WeightCacheHandle | null, weights: H[], down: H): H;

  setRequiresGrad(t: H, flag: boolean): void;
  requiresGrad(t: H): boolean;
  backward(t: H, grad: H | null): void;
  grad(t: H): H | null;
  zeroGrad(params: H[]): void;
  assign(dst: H, src: H): void;
  clipGradNorm(params: H[], maxNorm: number): number;
  adamwStep(
    params: H[],
    expAvg: H[],
    expAvgSq: H[],
    step: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
  ): void;
  allFinite(ts: H[]): boolean;
}

const ADDON = join("native", "build", "Release", "selfsynth_engine.node");

/** Walks up from this file to the package root (works from src/ under tsx and from dist/). */
function findAddon(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, ADDON);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(
    `selfsynth engine addon not found (${ADDON}): run \`npm ci\` (or \`npm run rebuild-engine\`) to build it; see README.md, "How the engine finds libtorch"`,
  );
}

const require = createRequire(import.meta.url);
chooseOpenblasCore();
export const native: NativeEngine = require(findAddon());
