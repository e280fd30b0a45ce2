// The engine's modes and settings: autograd on or off, threads, live-tensor counts, versions.
import { blasInfo } from "./blas.js";
import { native } from "./native.js";
import { EngineError } from "./tensor.js";

/** Runs fn with autograd off (restoring the previous mode afterwards). */
export function noGrad<R>(fn: () => R): R {
  const previous = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}
export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new EngineError(`setNumThreads: ${n} must be a positive integer`);
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
/**
 * Tensors made and not yet disposed, by dispose() or a scope (for tests of scopes and leaks). A
 * tensor left to the garbage collector keeps counting even once the collector has freed it, so
 * that the leak stays visible and the count never moves in the middle of synchronous code.
 */
export function liveTensorCount(): number {
  return native.liveTensors();
}
/** Tensors whose memory is still held: liveTensorCount() minus those the garbage collector freed. */
export function heldTensorCount(): number {
  return native.heldTensors();
}
export function torchVersion(): string {
  return native.version();
}
/** The BLAS libtorch runs its matrix products on (library path, OpenBLAS kernel set or null). */
export function blas(): { library: string; core: string | null } {
  return blasInfo(() => native.blasCore());
}
