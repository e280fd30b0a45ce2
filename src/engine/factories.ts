// Tensors made from data or filled with a constant.
import { type DType, native } from "./native.js";
import { checkShape, EngineError, type Shape, type Tensor, wrap } from "./tensor.js";

type TypedData = Float32Array | Float64Array | BigInt64Array | Uint8Array;

/** A tensor holding a copy of data; the dtype follows the typed array (Uint8Array = bool, nonzero = true). */
export function tensorFrom(data: TypedData, shape: Shape): Tensor {
  const dtype: DType =
    data instanceof Float32Array
      ? "float32"
      : data instanceof Float64Array
        ? "float64"
        : data instanceof BigInt64Array
          ? "int64"
          : "bool";
  const s = checkShape(shape, "tensorFrom");
  const n = s.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new EngineError(`tensorFrom: ${data.length} values do not fill shape [${s}] (${n})`);
  // libtorch's bools are bytes holding 0 or 1; any other byte would read back as itself.
  const bytes =
    data instanceof Uint8Array && data.some((v) => v > 1) ? Uint8Array.from(data, (v) => (v ? 1 : 0)) : data;
  return wrap(native.fromBuffer(bytes, s, dtype));
}

/** A tensor from plain numbers (or nested arrays), float32 unless another dtype is named. */
export function tensor(values: number[] | number[][] | number, dtype: DType = "float32", shape?: Shape): Tensor {
  const flat =
    typeof values === "number" ? [values] : ((values as unknown[]).flat(Number.POSITIVE_INFINITY) as number[]);
  const inferred =
    typeof values === "number"
      ? []
      : Array.isArray(values[0])
        ? [values.length, (values[0] as number[]).length]
        : [values.length];
  const s = shape ? [...shape] : inferred;
  switch (dtype) {
    case "float32":
      return tensorFrom(Float32Array.from(flat), s);
    case "float64":
      return tensorFrom(Float64Array.from(flat), s);
    case "int64":
      return tensorFrom(
        BigInt64Array.from(flat, (v) => BigInt(Math.trunc(v))),
        s,
      );
    case "bool":
      return tensorFrom(
        Uint8Array.from(flat, (v) => (v ? 1 : 0)),
        s,
      );
  }
}

export function zeros(shape: Shape, dtype: DType = "float32"): Tensor {
  return wrap(native.zeros(checkShape(shape, "zeros"), dtype));
}
export function ones(shape: Shape, dtype: DType = "float32"): Tensor {
  return wrap(native.ones(checkShape(shape, "ones"), dtype));
}
export function full(shape: Shape, value: number, dtype: DType = "float32"): Tensor {
  return wrap(native.full(checkShape(shape, "full"), value, dtype));
}
/** start, start+step, ... < end. */
export function arange(start: number, end: number, step = 1, dtype: DType = "int64"): Tensor {
  return wrap(native.arange(start, end, step, dtype));
}
