// Seeded random draws: every random tensor names its Generator, so that a seed reproduces it.
import { type DType, native } from "./native.js";
import { checkShape, EngineError, type Shape, type Tensor, wrap } from "./tensor.js";

/** A seeded random source; the same seed gives the same draws. */
export class Generator {
  readonly handle;
  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new EngineError(`Generator: seed ${seed} must be a non-negative integer`);
    this.handle = native.newGenerator(seed);
  }
}

export function randn(shape: Shape, gen: Generator, dtype: DType = "float32"): Tensor {
  return wrap(native.randn(checkShape(shape, "randn"), gen.handle, dtype));
}
/** Uniform in [0, 1). */
export function rand(shape: Shape, gen: Generator, dtype: DType = "float32"): Tensor {
  return wrap(native.rand(checkShape(shape, "rand"), gen.handle, dtype));
}
/** Draws n indices per row of probs (.., K) in proportion to its (non-negative) values. */
export function multinomial(probs: Tensor, n: number, gen: Generator, replacement = false): Tensor {
  return wrap(native.multinomial(probs.handle, n, replacement, gen.handle));
}
