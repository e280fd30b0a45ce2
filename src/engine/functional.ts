// Ops over several tensors, and the layers' fused kernels (linear, convolution, norms, attention,
// losses) as free functions, PyTorch's torch.nn.functional.
import { native } from "./native.js";
import type { Generator } from "./random.js";
import { EngineError, type Tensor, wrap } from "./tensor.js";

export function cat(tensors: Tensor[], dim = 0): Tensor {
  return wrap(
    native.cat(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return wrap(
    native.stack(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  return wrap(native.where(cond.handle, a.handle, b.handle));
}
/** x @ weight^T + bias, weight (out, in). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return wrap(native.linear(x.handle, weight.handle, bias?.handle ?? null));
}
/** 2-D convolution of x (B, Cin, H, W) with weight (Cout, Cin, k, k): (B, Cout, H', W'). */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, stride = 1, padding = 0): Tensor {
  if (!Number.isInteger(stride) || stride < 1)
    throw new EngineError(`conv2d: stride ${stride} must be an integer >= 1`);
  if (!Number.isInteger(padding) || padding < 0)
    throw new EngineError(`conv2d: padding ${padding} must be an integer >= 0`);
  return wrap(native.conv2d(x.handle, weight.handle, bias?.handle ?? null, stride, padding));
}
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  return wrap(native.layerNorm(x.handle, [x.size(-1)], weight?.handle ?? null, bias?.handle ?? null, eps));
}
/** Rows of weight (V, D) picked by integer ids. */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  return wrap(native.embedding(weight.handle, ids.handle));
}
/** Cross-entropy of logits (N, C) against int64 targets (N); targets equal to ignoreIndex count for nothing. */
export function crossEntropy(
  logits: Tensor,
  targets: Tensor,
  options: { ignoreIndex?: number; reduction?: "mean" | "sum" | "none" } = {},
): Tensor {
  // libtorch reads float targets of the logits' shape as class probabilities: refuse them
  // rather than silently computing a different loss.
  if (targets.dtype !== "int64") {
    throw new EngineError(`crossEntropy: targets must be int64 class indices, got ${targets.dtype}`);
  }
  return wrap(
    native.crossEntropy(logits.handle, targets.handle, options.ignoreIndex ?? -100, options.reduction ?? "mean"),
  );
}
/** Inverted dropout with a seeded mask; identity when p = 0. */
export function dropout(x: Tensor, p: number, gen: Generator): Tensor {
  if (!(p >= 0 && p < 1)) throw new EngineError(`dropout: p = ${p} must be in [0, 1)`);
  return wrap(native.dropout(x.handle, p, gen.handle));
}
/** x / sqrt(mean(x^2, -1) + eps) * weight. */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  return wrap(native.rmsNorm(x.handle, weight.handle, eps));
}
/** Rotary position embedding of x (B, H, T, D) with cos, sin broadcastable to (B, 1, T, D/2). */
export function rotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return wrap(native.rotary(x.handle, cos.handle, sin.handle));
}
/**
 * softmax(q k^T / sqrt(D) + mask) v; mask (B|1, 1, Tq, Tk): bool, true where attending is allowed,
 * or a float additive bias (0 / -inf).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null): Tensor {
  return wrap(native.attention(q.handle, k.handle, v.handle, mask?.handle ?? null));
}
/** down(silu(gate(x)) * up(x)) with bias-free linears. */
export function swiglu(x: Tensor, gate: Tensor, up: Tensor, down: Tensor): Tensor {
  return wrap(native.swiglu(x.handle, gate.handle, up.handle, down.handle));
}
