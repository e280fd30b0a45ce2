// Fused transformer ops (native/src/fused_ops.cc): a block's whole self-attention in one call with
// Q, K and V as one GEMM, and the SwiGLU MLP with gate and up as one GEMM. Without autograd the
// concatenated weights are kept in a WeightCache and rebuilt when a source weight changes (its
// version counter moves: optimizer step, assign); under autograd they are concatenated per
// forward so that gradients reach the separate named parameters.
import { native, type WeightCacheHandle } from "./native.js";
import { Tensor } from "./tensor.js";

/** Concatenated weights of one layer, valid while their sources are unchanged. */
export class WeightCache {
  readonly handle: WeightCacheHandle = native.newWeightCache();
  /** Frees the cached tensors now (they are rebuilt on the next no-grad forward if needed). */
  dispose(): void {
    native.disposeWeightCache(this.handle);
  }
}

export interface AttentionBlockInput {
  /** Q, K, V weights (out, in) each, concatenated into one GEMM. */
  weights: [Tensor, Tensor, Tensor];
  biases?: [Tensor, Tensor, Tensor] | null;
  /** Output projection (C, C) and its bias. */
  wo: Tensor;
  bo?: Tensor | null;
  heads: number;
  /** Rotary tables (B|1, 1, T, D/2), or null for none. */
  rope?: { cos: Tensor; sin: Tensor } | null;
  /** Past keys and values (B, H, T_past, D); with pastLength, buffers (B, H, capacity, D). */
  past?: { k: Tensor; v: Tensor } | null;
  /**
   * Inference only (refused under autograd): past.k and past.v are buffers whose first pastLength
   * columns hold the past; the new keys and values are written into them in place (into a copy
   * grown by half when full), and the returned k and v are those buffers. The caller gives up
   * `past`: anyone else holding it would see the columns after pastLength change.
   */
  pastLength?: number | null;
  /** (B|1, 1, T, T_past + T): bool (true = may attend) or an additive float bias; null = all. */
  mask?: Tensor | null;
  cache?: WeightCache | null;
}

/**
 * Self-attention of x (B, T, C): out (B, T, C) and the updated keys and values (B, H, T_all, D),
 * or with pastLength the cache buffers (B, H, capacity >= T_all, D) written in place.
 */
export function attentionBlock(x: Tensor, a: AttentionBlockInput): { out: Tensor; k: Tensor; v: Tensor } {
  const n = a.pastLength;
  if (n !== undefined && n !== null && !(Number.isInteger(n) && n >= 0 && a.past))
    throw new RangeError(`attentionBlock: pastLength ${n} must be a non-negative integer, with past buffers`);
  const [out, k, v] = native.attentionBlock(
    x.handle,
    a.cache?.handle ?? null,
    a.weights.map((w) => w.handle),
    a.biases ? a.biases.map((b) => b.handle) : null,
    a.wo.handle,
    a.bo?.handle ?? null,
    a.rope?.cos.handle ?? null,
    a.rope?.sin.handle ?? null,
    a.past?.k.handle ?? null,
    a.past?.v.handle ?? null,
    a.mask?.handle ?? null,
    a.heads,
    a.pastLength ?? null,
  );
  return { out: new Tensor(out), k: new Tensor(k), v: new Tensor(v) };
}

/** down(silu(gate(x)) * up(x)) with gate and up as one GEMM (bias-free linears). */
export function swigluFused(
  x: Tensor,
  gate: Tensor,
  up: Tensor,
  down: Tensor,
  cache: WeightCache | null = null,
): Tensor {
  return new Tensor(native.swigluFused(x.handle, cache?.handle ?? null, [gate.handle, up.handle], down.handle));
}
