// Every differentiable op of the engine: analytic gradients (libtorch autograd through the addon)
// against central finite differences in float64 (see gradcheck.ts); then the fused ops against
// their unfused compositions in float32.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  attention,
  cat,
  conv2d,
  crossEntropy,
  dropout,
  embedding,
  Generator,
  layerNorm,
  linear,
  randn,
  rmsNorm,
  rotary,
  setNumThreads,
  stack,
  swiglu,
  type Tensor,
  tensor,
  tidy,
  where,
} from "../../src/engine/index.js";
import { type GradcheckOptions, gradcheck, uniform } from "./gradcheck.js";

setNumThreads(1);

type Fn = (...xs: Tensor[]) => Tensor;

/** Registers a test that gradchecks fn at the inputs made by `inputs` (inside a scope). */
function check(name: string, fn: Fn, inputs: () => Tensor[], options?: GradcheckOptions): void {
  test(name, () => {
    tidy(() => gradcheck(fn, inputs(), options));
  });
}

const u = uniform;
const positive = (shape: number[]) => u(shape, { lo: 0.3, hi: 2 });
const awayFromZero = (shape: number[]) => u(shape, { avoid: [0], gap: 0.05 });
const ids = (values: number[] | number[][]) => tensor(values, "int64");
const mask = (values: number[] | number[][]) => tensor(values, "bool");

describe("gradcheck itself", () => {
  test("passes a correct gradient", () => {
    tidy(() => gradcheck((x) => x.mul(x), [u([3])]));
  });
  test("detects a wrong gradient", () => {
    // d/dx (x * stop_grad(x)) is reported as x; the true derivative is 2x.
    tidy(() => assert.throws(() => gradcheck((x) => x.mul(x.detach()), [u([3])]), /gradcheck: input 0/));
  });
  test("detects a missing gradient", () => {
    tidy(() => assert.throws(() => gradcheck((x) => x.detach().mul(2), [u([3])]), /no gradient|require grad/));
  });
});

describe("elementwise binary (tensor, with broadcasting)", () => {
  check(
    "add",
    (a, b) => a.add(b),
    () => [u([2, 3]), u([3])],
  );
  check(
    "add [2,1] + [1,3]",
    (a, b) => a.add(b),
    () => [u([2, 1]), u([1, 3])],
  );
  check(
    "sub",
    (a, b) => a.sub(b),
    () => [u([2, 3]), u([2, 1])],
  );
  check(
    "mul",
    (a, b) => a.mul(b),
    () => [u([2, 3]), u([3])],
  );
  check(
    "div",
    (a, b) => a.div(b),
    () => [u([2, 3]), positive([2, 1])],
  );
  check(
    "div (same shape)",
    (a, b) => a.div(b),
    () => [u([2, 3]), positive([2, 3])],
  );
  check(
    "maximum",
    (a, b) => a.maximum(b),
    () => [u([2, 3]), u([3])],
  );
  check(
    "minimum",
    (a, b) => a.minimum(b),
    () => [u([2, 3]), u([2, 3])],
  );
});

describe("elementwise with a scalar", () => {
  check(
    "add scalar",
    (x) => x.add(1.5),
    () => [u([2, 3])],
  );
  check(
    "sub scalar",
    (x) => x.sub(0.7),
    () => [u([2, 3])],
  );
  check(
    "mul scalar",
    (x) => x.mul(-1.3),
    () => [u([2, 3])],
  );
  check(
    "div scalar",
    (x) => x.div(2.5),
    () => [u([2, 3])],
  );
  check(
    "rsub scalar",
    (x) => x.rsub(2),
    () => [u([2, 3])],
  );
  check(
    "pow 3",
    (x) => x.pow(3),
    () => [u([2, 3])],
  );
  check(
    "pow 2.5",
    (x) => x.pow(2.5),
    () => [positive([2, 3])],
  );
  check(
    "pow -0.5",
    (x) => x.pow(-0.5),
    () => [positive([2, 3])],
  );
});

describe("elementwise unary", () => {
  check(
    "neg",
    (x) => x.neg(),
    () => [u([2, 3])],
  );
  check(
    "exp",
    (x) => x.exp(),
    () => [u([2, 3])],
  );
  check(
    "log",
    (x) => x.log(),
    () => [positive([2, 3])],
  );
  check(
    "tanh",
    (x) => x.tanh(),
    () => [u([2, 3])],
  );
  check(
    "sigmoid",
    (x) => x.sigmoid(),
    () => [u([2, 3])],
  );
  check(
    "logSigmoid",
    (x) => x.logSigmoid(),
    () => [u([2, 3])],
  );
  check(
    "relu",
    (x) => x.relu(),
    () => [awayFromZero([2, 4])],
  );
  check(
    "gelu (exact)",
    (x) => x.gelu(),
    () => [u([2, 4])],
  );
  check(
    "gelu (tanh)",
    (x) => x.gelu("tanh"),
    () => [u([2, 4])],
  );
  check(
    "silu",
    (x) => x.silu(),
    () => [u([2, 4])],
  );
  check(
    "sqrt",
    (x) => x.sqrt(),
    () => [positive([2, 3])],
  );
  check(
    "rsqrt",
    (x) => x.rsqrt(),
    () => [positive([2, 3])],
  );
  check(
    "abs",
    (x) => x.abs(),
    () => [awayFromZero([2, 4])],
  );
  check(
    "sin",
    (x) => x.sin(),
    () => [u([2, 3])],
  );
  check(
    "cos",
    (x) => x.cos(),
    () => [u([2, 3])],
  );
  check(
    "clamp (min and max)",
    (x) => x.clamp(-0.5, 0.8),
    () => [u([3, 4], { avoid: [-0.5, 0.8], gap: 0.01 })],
  );
  check(
    "clamp (min only)",
    (x) => x.clamp(0.1),
    () => [u([3, 4], { avoid: [0.1], gap: 0.01 })],
  );
  check(
    "clamp (max only)",
    (x) => x.clamp(null, -0.2),
    () => [u([3, 4], { avoid: [-0.2], gap: 0.01 })],
  );
});

describe("linear algebra", () => {
  check(
    "matmul 2d",
    (a, b) => a.matmul(b),
    () => [u([3, 4]), u([4, 2])],
  );
  check(
    "matmul batched with broadcasting",
    (a, b) => a.matmul(b),
    () => [u([2, 3, 4]), u([4, 2])],
  );
  check(
    "matmul vector",
    (a, b) => a.matmul(b),
    () => [u([4]), u([4, 3])],
  );
  check(
    "bmm",
    (a, b) => a.bmm(b),
    () => [u([2, 3, 4]), u([2, 4, 2])],
  );
  check(
    "linear with bias",
    (x, w, b) => linear(x, w, b),
    () => [u([3, 4]), u([5, 4]), u([5])],
  );
  check(
    "linear without bias",
    (x, w) => linear(x, w),
    () => [u([2, 3, 4]), u([5, 4])],
  );
  check(
    "conv2d 3x3, stride 2, padding 1, with bias (the vision stem's)",
    (x, w, b) => conv2d(x, w, b, 2, 1),
    () => [u([2, 2, 5, 5]), u([3, 2, 3, 3]), u([3])],
  );
  check(
    "conv2d 2x2, stride 1, no padding, without bias",
    (x, w) => conv2d(x, w, null),
    () => [u([1, 3, 4, 4]), u([2, 3, 2, 2])],
  );
});

describe("reductions", () => {
  check(
    "sum (all)",
    (x) => x.sum(),
    () => [u([2, 3])],
  );
  check(
    "sum (dim)",
    (x) => x.sum(1),
    () => [u([2, 3, 2])],
  );
  check(
    "sum (dims, keepdim)",
    (x) => x.sum([0, 2], true),
    () => [u([2, 3, 2])],
  );
  check(
    "mean (all)",
    (x) => x.mean(),
    () => [u([2, 3])],
  );
  check(
    "mean (dim)",
    (x) => x.mean(-1),
    () => [u([2, 3, 2])],
  );
  check(
    "mean (dims, keepdim)",
    (x) => x.mean([0, 1], true),
    () => [u([2, 3, 2])],
  );
  check(
    "max values (dim)",
    (x) => x.max(1).values,
    () => [u([3, 4])],
  );
  check(
    "max values (dim, keepdim)",
    (x) => x.max(0, true).values,
    () => [u([3, 4])],
  );
  check(
    "min values (dim)",
    (x) => x.min(1).values,
    () => [u([3, 4])],
  );
  check(
    "maxAll",
    (x) => x.maxAll(),
    () => [u([3, 4])],
  );
  check(
    "logsumexp (dim)",
    (x) => x.logsumexp(1),
    () => [u([3, 4])],
  );
  check(
    "logsumexp (dims, keepdim)",
    (x) => x.logsumexp([0, 2], true),
    () => [u([2, 3, 2])],
  );
  check(
    "topk values",
    (x) => x.topk(2).values,
    () => [u([3, 5])],
  );
  check(
    "topk values (dim 0)",
    (x) => x.topk(2, 0).values,
    () => [u([4, 3])],
  );
  check(
    "sort values (ascending)",
    (x) => x.sort(-1).values,
    () => [u([3, 5])],
  );
  check(
    "sort values (descending, dim 0)",
    (x) => x.sort(0, true).values,
    () => [u([4, 3])],
  );
  check(
    "cumsum",
    (x) => x.cumsum(1),
    () => [u([2, 4])],
  );
  check(
    "softmax",
    (x) => x.softmax(-1),
    () => [u([3, 4])],
  );
  check(
    "softmax (dim 0)",
    (x) => x.softmax(0),
    () => [u([3, 4])],
  );
  check(
    "logSoftmax",
    (x) => x.logSoftmax(-1),
    () => [u([3, 4])],
  );
});

describe("indexing", () => {
  check(
    "gather",
    (x, i) => x.gather(1, i),
    () => [
      u([3, 4]),
      ids([
        [0, 3],
        [2, 2],
        [1, 0],
      ]),
    ],
  );
  check(
    "indexSelect (repeated index)",
    (x, i) => x.indexSelect(0, i),
    () => [u([4, 3]), ids([2, 0, 2])],
  );
  check(
    "indexSelect (dim 1)",
    (x, i) => x.indexSelect(1, i),
    () => [u([2, 4]), ids([3, 1])],
  );
  check(
    "maskedFill",
    (x, m) => x.maskedFill(m, -3),
    () => [
      u([2, 3]),
      mask([
        [1, 0, 0],
        [0, 1, 1],
      ]),
    ],
  );
  check(
    "where",
    (c, a, b) => where(c, a, b),
    () => [
      mask([
        [1, 0, 1],
        [0, 0, 1],
      ]),
      u([2, 3]),
      u([3]),
    ],
  );
  check(
    "triu",
    (x) => x.triu(),
    () => [u([3, 4])],
  );
  check(
    "triu (k = 1)",
    (x) => x.triu(1),
    () => [u([3, 4])],
  );
  check(
    "tril",
    (x) => x.tril(),
    () => [u([3, 4])],
  );
  check(
    "tril (k = -1)",
    (x) => x.tril(-1),
    () => [u([3, 4])],
  );
});

describe("layout", () => {
  check(
    "reshape",
    (x) => x.reshape([3, 2]).mul(x.reshape([3, 2])),
    () => [u([2, 3])],
  );
  check(
    "transpose",
    (x) => x.transpose(0, 2),
    () => [u([2, 3, 2])],
  );
  check(
    "permute",
    (x) => x.permute([2, 0, 1]),
    () => [u([2, 3, 2])],
  );
  check(
    "slice",
    (x) => x.slice(1, 1, 3),
    () => [u([2, 4])],
  );
  check(
    "slice with step",
    (x) => x.slice(1, 0, 5, 2),
    () => [u([2, 5])],
  );
  check(
    "slice negative start",
    (x) => x.slice(0, -2),
    () => [u([4, 2])],
  );
  check(
    "select",
    (x) => x.select(1, 2),
    () => [u([2, 3])],
  );
  check(
    "unsqueeze",
    (x) => x.unsqueeze(1),
    () => [u([2, 3])],
  );
  check(
    "squeeze",
    (x) => x.squeeze(1),
    () => [u([2, 1, 3])],
  );
  check(
    "expand",
    (x) => x.expand([2, 3, 4]),
    () => [u([3, 1])],
  );
  check(
    "cat",
    (a, b) => cat([a, b], 1),
    () => [u([2, 3]), u([2, 2])],
  );
  check(
    "cat (dim 0, three)",
    (a, b, c) => cat([a, b, c]),
    () => [u([1, 2]), u([2, 2]), u([1, 2])],
  );
  check(
    "stack",
    (a, b) => stack([a, b], 1),
    () => [u([2, 3]), u([2, 3])],
  );
  check(
    "flip",
    (x) => x.flip([0, 1]),
    () => [u([2, 3])],
  );
  check(
    "repeatInterleave",
    (x) => x.repeatInterleave(3, 1),
    () => [u([2, 2])],
  );
  check(
    "contiguous of a transpose",
    (x) => x.transpose(0, 1).contiguous(),
    () => [u([2, 3])],
  );
  check(
    "clone",
    (x) => x.clone().mul(x),
    () => [u([2, 3])],
  );
});

describe("neural-network ops", () => {
  check(
    "layerNorm (input, weight, bias)",
    (x, w, b) => layerNorm(x, w, b),
    () => [u([3, 5]), u([5]), u([5])],
  );
  check(
    "layerNorm (no affine)",
    (x) => layerNorm(x, null, null),
    () => [u([2, 3, 4])],
  );
  check(
    "embedding (weight)",
    (w, i) => embedding(w, i),
    () => [
      u([6, 3]),
      ids([
        [1, 4, 1],
        [0, 5, 2],
      ]),
    ],
  );
  const targets = () => ids([1, -100, 3, 0]);
  check(
    "crossEntropy (mean, ignore index)",
    (l, t) => crossEntropy(l, t),
    () => [u([4, 5]), targets()],
  );
  check(
    "crossEntropy (sum)",
    (l, t) => crossEntropy(l, t, { reduction: "sum" }),
    () => [u([4, 5]), targets()],
  );
  check(
    "crossEntropy (none)",
    (l, t) => crossEntropy(l, t, { reduction: "none" }),
    () => [u([4, 5]), targets()],
  );
  check(
    "crossEntropy (custom ignore index)",
    (l, t) => crossEntropy(l, t, { ignoreIndex: 2 }),
    () => [u([4, 5]), ids([2, 4, 2, 1])],
  );
  // A fresh generator with the same seed on every call, so that every evaluation draws one mask.
  check(
    "dropout (fixed mask)",
    (x) => dropout(x, 0.4, new Generator(7)),
    () => [u([3, 4])],
  );
  check(
    "rmsNorm (x, weight)",
    (x, w) => rmsNorm(x, w),
    () => [u([2, 3, 4]), u([4])],
  );
  check(
    "rotary (x)",
    (x, c, s) => rotary(x, c, s),
    () => [u([2, 2, 3, 4]), u([1, 1, 3, 2]), u([1, 1, 3, 2])],
    { wrt: [0] },
  );
  check(
    "attention (no mask)",
    (q, k, v) => attention(q, k, v, null),
    () => [u([1, 2, 3, 4]), u([1, 2, 5, 4]), u([1, 2, 5, 4])],
  );
  check(
    "attention (causal mask)",
    (q, k, v, m) => attention(q, k, v, m),
    () => [
      u([2, 2, 3, 4]),
      u([2, 2, 3, 4]),
      u([2, 2, 3, 4]),
      mask([
        [1, 0, 0],
        [1, 1, 0],
        [1, 1, 1],
      ]).reshape([1, 1, 3, 3]),
    ],
  );
  check(
    "attention (padding mask per batch)",
    (q, k, v, m) => attention(q, k, v, m),
    () => [u([2, 1, 2, 4]), u([2, 1, 3, 4]), u([2, 1, 3, 4]), mask([1, 1, 0, 1, 0, 1]).reshape([2, 1, 1, 3])],
  );
  check(
    "swiglu (x, gate, up, down)",
    (x, g, up, d) => swiglu(x, g, up, d),
    () => [u([2, 4]), u([6, 4]), u([6, 4]), u([4, 6])],
  );
});

// --- fused ops against their unfused compositions (float32) --------------------------------------

function randomF32(shape: number[], seed: number): Tensor {
  return randn(shape, new Generator(seed));
}

/** Values of fused(xs) equal unfused(xs), and so do the gradients of every input. */
function assertSameAsUnfused(fused: Fn, unfused: Fn, make: () => Tensor[], wrt: number[]): void {
  tidy(() => {
    const run = (f: Fn) => {
      const xs = make();
      for (const i of wrt) xs[i].requiresGrad_();
      const out = f(...xs);
      out.mul(randomF32(out.shape, 99)).sum().backward();
      return { out: out.toFloat32(), shape: out.shape, grads: wrt.map((i) => xs[i].grad!.toFloat32()) };
    };
    const a = run(fused);
    const b = run(unfused);
    assert.deepEqual(a.shape, b.shape);
    assertClose(a.out, b.out, 1e-5, "value");
    for (let g = 0; g < wrt.length; g++) assertClose(a.grads[g], b.grads[g], 1e-5, `gradient of input ${wrt[g]}`);
  });
}

function assertClose(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths differ`);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])))) assert.fail(`${what} ${i}: ${a[i]} vs ${b[i]}`);
  }
}

describe("fused ops equal their unfused compositions (float32)", () => {
  test("rmsNorm", () => {
    assertSameAsUnfused(
      (x, w) => rmsNorm(x, w, 1e-6),
      (x, w) => x.mul(x.mul(x).mean(-1, true).add(1e-6).rsqrt()).mul(w),
      () => [randomF32([2, 3, 8], 1), randomF32([8], 2)],
      [0, 1],
    );
  });
  test("rotary (rotate_half, as GPT-NeoX and Llama)", () => {
    assertSameAsUnfused(
      (x, c, s) => rotary(x, c, s),
      (x, c, s) => {
        const half = x.size(-1) / 2;
        const x1 = x.slice(-1, 0, half);
        const x2 = x.slice(-1, half);
        const cos = cat([c, c], -1);
        const sin = cat([s, s], -1);
        const rotated = cat([x2.neg(), x1], -1);
        return x.mul(cos).add(rotated.mul(sin));
      },
      () => [randomF32([2, 3, 5, 8], 3), randomF32([1, 1, 5, 4], 4), randomF32([1, 1, 5, 4], 5)],
      [0],
    );
  });
  test("attention with a causal mask", () => {
    const T = 5;
    assertSameAsUnfused(
      (q, k, v, m) => attention(q, k, v, m),
      (q, k, v, m) =>
        q
          .matmul(k.transpose(-2, -1))
          .mul(1 / Math.sqrt(q.size(-1)))
          .maskedFill(m.not(), Number.NEGATIVE_INFINITY)
          .softmax(-1)
          .matmul(v),
      () => [
        randomF32([2, 3, T, 8], 6),
        randomF32([2, 3, T, 8], 7),
        randomF32([2, 3, T, 8], 8),
        tensor(
          Array.from({ length: T * T }, (_, i) => (i % T <= Math.floor(i / T) ? 1 : 0)),
          "bool",
          [1, 1, T, T],
        ),
      ],
      [0, 1, 2],
    );
  });
  test("attention without a mask", () => {
    assertSameAsUnfused(
      (q, k, v) => attention(q, k, v, null),
      (q, k, v) =>
        q
          .matmul(k.transpose(-2, -1))
          .mul(1 / Math.sqrt(q.size(-1)))
          .softmax(-1)
          .matmul(v),
      () => [randomF32([1, 2, 3, 4], 9), randomF32([1, 2, 6, 4], 10), randomF32([1, 2, 6, 4], 11)],
      [0, 1, 2],
    );
  });
  test("swiglu", () => {
    assertSameAsUnfused(
      (x, g, up, d) => swiglu(x, g, up, d),
      (x, g, up, d) => linear(linear(x, g).silu().mul(linear(x, up)), d),
      () => [randomF32([2, 3, 8], 12), randomF32([16, 8], 13), randomF32([16, 8], 14), randomF32([8, 16], 15)],
      [0, 1, 2, 3],
    );
  });
});
