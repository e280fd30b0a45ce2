// The engine: tensors, autograd and AdamW on libtorch (see native/ and DESIGN.md, Engine).

export * from "./factories.js";
export * from "./functional.js";
export * from "./fused.js";
export * from "./optim.js";
export * from "./random.js";
export * from "./runtime.js";
export { keep, tidy } from "./scope.js";
export { type DType, EngineError, type Shape, Tensor } from "./tensor.js";
