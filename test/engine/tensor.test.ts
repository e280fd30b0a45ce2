// Values of the engine's factories, conversions, seeded random draws and non-differentiable ops,
// on hand-made inputs whose expected results are written out (or computed in plain JS).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import {
  arange,
  conv2d,
  crossEntropy,
  dropout,
  embedding,
  full,
  Generator,
  isGradEnabled,
  layerNorm,
  liveTensorCount,
  multinomial,
  noGrad,
  ones,
  rand,
  randn,
  setNumThreads,
  type Tensor,
  tensor,
  tensorFrom,
  tidy,
  where,
  zeros,
} from "../../src/engine/index.js";

setNumThreads(1);

/** Asserts |a_i - b_i| <= tol for every element. */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) assert.fail(`element ${i}: ${actual[i]} != ${expected[i]}`);
  }
}

// Every test runs in a scope, and must leave no tensor behind.
let live = 0;
beforeEach(() => {
  live = liveTensorCount();
});
afterEach(() => {
  assert.equal(liveTensorCount(), live, "the test leaked tensors");
});
const scoped = (fn: () => void) => () => tidy(fn);

describe("factories", () => {
  test(
    "zeros, ones, full",
    scoped(() => {
      const z = zeros([2, 3]);
      assert.deepEqual(z.shape, [2, 3]);
      assert.equal(z.dtype, "float32");
      assert.deepEqual(z.toArray(), [0, 0, 0, 0, 0, 0]);
      const o = ones([3], "float64");
      assert.equal(o.dtype, "float64");
      assert.deepEqual(o.toArray(), [1, 1, 1]);
      assert.deepEqual(ones([2], "int64").toInt64(), BigInt64Array.from([1n, 1n]));
      assert.deepEqual(ones([2], "bool").toArray(), [1, 1]);
      const f = full([2, 2], 3.5, "float64");
      assert.deepEqual(f.toArray(), [3.5, 3.5, 3.5, 3.5]);
      assert.deepEqual(full([3], -7, "int64").toArray(), [-7, -7, -7]);
      assert.deepEqual(zeros([0, 3]).shape, [0, 3]);
      assert.deepEqual(zeros([0, 3]).toArray(), []);
    }),
  );
  test(
    "arange",
    scoped(() => {
      const a = arange(0, 5);
      assert.equal(a.dtype, "int64");
      assert.deepEqual(a.toArray(), [0, 1, 2, 3, 4]);
      assert.deepEqual(arange(5, 0, -2).toArray(), [5, 3, 1]);
      const f = arange(1, 2, 0.25, "float32");
      assert.equal(f.dtype, "float32");
      assert.deepEqual(f.toArray(), [1, 1.25, 1.5, 1.75]);
      assert.deepEqual(arange(3, 3).shape, [0]);
    }),
  );
  test(
    "tensor() from numbers and nested arrays",
    scoped(() => {
      const s = tensor(5);
      assert.deepEqual(s.shape, []);
      assert.equal(s.item(), 5);
      const m = tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      assert.deepEqual(m.shape, [2, 3]);
      assert.deepEqual(m.toArray(), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(tensor([1.9, -1.9], "int64").toArray(), [1, -1]);
      assert.deepEqual(tensor([0, 3, -1], "bool").toArray(), [0, 1, 1]);
      assert.deepEqual(tensor([1, 2, 3, 4, 5, 6], "float64", [3, 2]).shape, [3, 2]);
    }),
  );
});

describe("typed-array round trips", () => {
  test(
    "float32",
    scoped(() => {
      const data = Float32Array.from([0, -0, 1.5, -2.25, 3.4e38, 1e-38, Number.NaN, Number.POSITIVE_INFINITY]);
      const t = tensorFrom(data, [2, 4]);
      assert.equal(t.dtype, "float32");
      assert.deepEqual(t.toFloat32(), data);
      assert.notEqual(t.toFloat32(), data, "a copy, not the same array");
    }),
  );
  test(
    "float64",
    scoped(() => {
      const data = Float64Array.from([
        1 / 3,
        Math.PI,
        -1e300,
        Number.MIN_VALUE,
        Number.MAX_VALUE,
        Number.NEGATIVE_INFINITY,
      ]);
      const t = tensorFrom(data, [3, 2]);
      assert.equal(t.dtype, "float64");
      assert.deepEqual(t.toFloat64(), data);
      assert.deepEqual(t.toArray(), Array.from(data));
    }),
  );
  test(
    "int64 (beyond 2^53)",
    scoped(() => {
      const data = BigInt64Array.from([0n, -5n, 2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n]);
      const t = tensorFrom(data, [5]);
      assert.equal(t.dtype, "int64");
      assert.deepEqual(t.toInt64(), data);
    }),
  );
  test(
    "bool (nonzero bytes read as true)",
    scoped(() => {
      const t = tensorFrom(Uint8Array.from([1, 0, 0, 1, 2, 255]), [2, 3]);
      assert.equal(t.dtype, "bool");
      assert.deepEqual(t.toArray(), [1, 0, 0, 1, 1, 1]);
      assert.deepEqual(t.not().toArray(), [0, 1, 1, 0, 0, 0]);
      assert.equal(t.to("int64").sum().item(), 4);
    }),
  );
  test(
    "conversions between dtypes",
    scoped(() => {
      const f = tensor([1.75, -2.5, 0]);
      assert.deepEqual(f.toInt64(), BigInt64Array.from([1n, -2n, 0n]));
      assert.deepEqual(f.toFloat64(), Float64Array.from([1.75, -2.5, 0]));
      assert.deepEqual(f.to("bool").toArray(), [1, 1, 0]);
      const i = tensor([3, -4], "int64");
      assert.deepEqual(i.toFloat32(), Float32Array.from([3, -4]));
      assert.equal(i.to("float64").dtype, "float64");
    }),
  );
  test(
    "reading a tensor as another dtype leaves no tensor behind",
    scoped(() => {
      const t = tensor([1, 2], "int64");
      const before = liveTensorCount();
      t.toFloat32();
      t.toFloat64();
      tensor([1]).toInt64();
      assert.equal(liveTensorCount(), before + 1);
    }),
  );
  test(
    "non-contiguous views read in logical order",
    scoped(() => {
      const m = tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      assert.deepEqual(m.transpose(0, 1).toArray(), [1, 4, 2, 5, 3, 6]);
      assert.deepEqual(m.slice(1, 0, 3, 2).toArray(), [1, 3, 4, 6]);
      assert.deepEqual(m.select(1, 1).toArray(), [2, 5]);
      assert.deepEqual(m.flip([1]).toArray(), [3, 2, 1, 6, 5, 4]);
    }),
  );
});

describe("shapes", () => {
  test(
    "layout ops give the expected shapes",
    scoped(() => {
      const x = zeros([2, 3, 4]);
      assert.equal(x.rank, 3);
      assert.equal(x.numel, 24);
      assert.equal(x.size(-1), 4);
      assert.equal(x.size(0), 2);
      assert.throws(() => x.size(3), /size: dim 3 out of range/);
      assert.deepEqual(x.reshape([6, -1]).shape, [6, 4]);
      assert.deepEqual(x.transpose(0, 2).shape, [4, 3, 2]);
      assert.deepEqual(x.permute([1, 2, 0]).shape, [3, 4, 2]);
      assert.deepEqual(x.unsqueeze(1).shape, [2, 1, 3, 4]);
      assert.deepEqual(x.unsqueeze(-1).shape, [2, 3, 4, 1]);
      assert.deepEqual(zeros([2, 1, 3]).squeeze(1).shape, [2, 3]);
      assert.deepEqual(x.slice(2, 1, 4, 2).shape, [2, 3, 2]);
      assert.deepEqual(x.slice(1, -1).shape, [2, 1, 4]);
      assert.deepEqual(x.select(1, 0).shape, [2, 4]);
      assert.deepEqual(zeros([3, 1]).expand([2, 3, 5]).shape, [2, 3, 5]);
      assert.deepEqual(x.sum().shape, []);
      assert.deepEqual(x.sum(1).shape, [2, 4]);
      assert.deepEqual(x.mean([0, 2], true).shape, [1, 3, 1]);
      assert.deepEqual(x.repeatInterleave(2, 0).shape, [4, 3, 4]);
      assert.equal(x.toString(), "Tensor(float32, [2, 3, 4])");
    }),
  );
});

describe("seeded random", () => {
  test(
    "the same seed gives identical randn and rand draws; different seeds differ",
    scoped(() => {
      for (const dtype of ["float32", "float64"] as const) {
        const a = randn([4, 5], new Generator(42), dtype).toArray();
        const b = randn([4, 5], new Generator(42), dtype).toArray();
        const c = randn([4, 5], new Generator(43), dtype).toArray();
        assert.deepEqual(a, b);
        assert.notDeepEqual(a, c);
        assert.deepEqual(rand([7], new Generator(5), dtype).toArray(), rand([7], new Generator(5), dtype).toArray());
        assert.notDeepEqual(rand([7], new Generator(5), dtype).toArray(), rand([7], new Generator(6), dtype).toArray());
      }
    }),
  );
  test(
    "a generator advances: two draws from one generator differ",
    scoped(() => {
      const g = new Generator(1);
      assert.notDeepEqual(randn([5], g).toArray(), randn([5], g).toArray());
    }),
  );
  test(
    "randn has mean 0 and variance 1; rand lies in [0, 1) with mean 1/2",
    scoped(() => {
      const n = 20000;
      const x = randn([n], new Generator(7), "float64").toFloat64();
      const mean = x.reduce((s, v) => s + v, 0) / n;
      const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
      // Standard errors: 1/sqrt(n) = 0.007 for the mean, sqrt(2/n) = 0.01 for the variance.
      assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
      assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
      const r = rand([n], new Generator(8), "float64").toFloat64();
      assert.ok(r.every((v) => v >= 0 && v < 1));
      const rmean = r.reduce((s, v) => s + v, 0) / n;
      assert.ok(Math.abs(rmean - 0.5) < 0.01, `mean ${rmean}`);
    }),
  );
  test(
    "multinomial: same seed, same draws; frequencies follow the probabilities",
    scoped(() => {
      const probs = tensor([0.1, 0.2, 0.3, 0.4]);
      const n = 20000;
      const a = multinomial(probs, n, new Generator(11), true);
      assert.equal(a.dtype, "int64");
      assert.deepEqual(a.shape, [n]);
      const draws = a.toArray();
      assert.deepEqual(multinomial(probs, n, new Generator(11), true).toArray(), draws);
      assert.notDeepEqual(multinomial(probs, 50, new Generator(12), true).toArray(), draws.slice(0, 50));
      const counts = [0, 0, 0, 0];
      for (const d of draws) counts[d]++;
      // Standard error of a frequency: sqrt(p (1 - p) / n) <= 0.0035; allow about 4 of them.
      for (const [k, c] of counts.entries()) {
        assert.ok(Math.abs(c / n - [0.1, 0.2, 0.3, 0.4][k]) < 0.015, `class ${k}: ${c / n}`);
      }
    }),
  );
  test(
    "multinomial: unnormalized weights, rows, zero weights, without replacement",
    scoped(() => {
      // Row 0 can only draw 1; row 1 only 0 or 2.
      const w = tensor([
        [0, 5, 0],
        [1, 0, 3],
      ]);
      const d = multinomial(w, 10, new Generator(3), true);
      assert.deepEqual(d.shape, [2, 10]);
      const rows = d.toArray();
      assert.ok(rows.slice(0, 10).every((v) => v === 1));
      assert.ok(rows.slice(10).every((v) => v === 0 || v === 2));
      const perm = multinomial(ones([6]), 6, new Generator(4), false).toArray();
      assert.deepEqual([...perm].sort(), [0, 1, 2, 3, 4, 5]);
    }),
  );
  test("a seed must be a non-negative integer", () => {
    assert.throws(() => new Generator(-1), /Generator: seed -1/);
    assert.throws(() => new Generator(1.5), /Generator: seed 1.5/);
  });
});

describe("ops on hand-made inputs", () => {
  const m = () =>
    tensor([
      [3, 1, 4, 1.5],
      [5, 9, 2, 6],
    ]);
  test(
    "topk: the k largest along a dim, largest first",
    scoped(() => {
      const { values, indices } = m().topk(2);
      assert.deepEqual(values.toArray(), [4, 3, 9, 6]);
      assert.deepEqual(indices.toArray(), [2, 0, 1, 3]);
      assert.equal(indices.dtype, "int64");
      const col = m().topk(1, 0);
      assert.deepEqual(col.values.toArray(), [5, 9, 4, 6]);
      assert.deepEqual(col.indices.toArray(), [1, 1, 0, 1]);
    }),
  );
  test(
    "conv2d: a 3x3 box filter of stride 2 over a zero-padded 3x3 image",
    scoped(() => {
      // Image 1..9 in reading order; each output sums the in-bounds pixels of a 3x3 window centred
      // on (0,0), (0,2), (2,0), (2,2): 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9; plus the bias 0.5.
      const x = arange(1, 10, 1, "float32").reshape([1, 1, 3, 3]);
      const y = conv2d(x, ones([1, 1, 3, 3]), tensor([0.5]), 2, 1);
      assert.deepEqual(y.shape, [1, 1, 2, 2]);
      assert.deepEqual(y.toArray(), [12.5, 16.5, 24.5, 28.5]);
      assert.throws(() => conv2d(x, ones([1, 1, 3, 3]), null, 0), /conv2d: stride 0/);
      assert.throws(() => conv2d(x, ones([1, 2, 3, 3]), null), /conv2d/);
    }),
  );
  test(
    "argmax, max and min along a dim",
    scoped(() => {
      assert.deepEqual(m().argmax(1).toArray(), [2, 1]);
      assert.deepEqual(m().argmax(0, true).shape, [1, 4]);
      assert.deepEqual(m().argmax(0).toArray(), [1, 1, 0, 1]);
      const max = m().max(1);
      assert.deepEqual(max.values.toArray(), [4, 9]);
      assert.deepEqual(max.indices.toArray(), [2, 1]);
      const min = m().min(1, true);
      assert.deepEqual(min.values.shape, [2, 1]);
      assert.deepEqual(min.values.toArray(), [1, 2]);
      assert.deepEqual(min.indices.toArray(), [1, 2]);
      assert.equal(m().maxAll().item(), 9);
    }),
  );
  test(
    "sort ascending and descending",
    scoped(() => {
      const up = m().sort();
      assert.deepEqual(up.values.toArray(), [1, 1.5, 3, 4, 2, 5, 6, 9]);
      assert.deepEqual(up.indices.toArray(), [1, 3, 0, 2, 2, 0, 3, 1]);
      const down = m().sort(0, true);
      assert.deepEqual(down.values.toArray(), [5, 9, 4, 6, 3, 1, 2, 1.5]);
      assert.deepEqual(down.indices.toArray(), [1, 1, 0, 1, 0, 0, 1, 0]);
    }),
  );
  test(
    "triu and tril",
    scoped(() => {
      const x = tensor([
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ]);
      assert.deepEqual(x.triu().toArray(), [1, 2, 3, 0, 5, 6, 0, 0, 9]);
      assert.deepEqual(x.triu(1).toArray(), [0, 2, 3, 0, 0, 6, 0, 0, 0]);
      assert.deepEqual(x.tril().toArray(), [1, 0, 0, 4, 5, 0, 7, 8, 9]);
      assert.deepEqual(x.tril(-1).toArray(), [0, 0, 0, 4, 0, 0, 7, 8, 0]);
      // A causal mask as the models build it.
      assert.deepEqual(ones([3, 3], "bool").tril().toArray(), [1, 0, 0, 1, 1, 0, 1, 1, 1]);
    }),
  );
  test(
    "cumsum, logsumexp, softmax",
    scoped(() => {
      assert.deepEqual(tensor([1, 2, 3, 4]).cumsum(0).toArray(), [1, 3, 6, 10]);
      const x = tensor([1, 2, 3], "float64");
      const lse = Math.log(Math.E + Math.E ** 2 + Math.E ** 3);
      close(x.logsumexp(0).toArray(), [lse], 1e-12);
      close(
        x.softmax(0).toArray(),
        [1, 2, 3].map((v) => Math.exp(v - lse)),
        1e-12,
      );
      close(
        x.logSoftmax(0).toArray(),
        [1, 2, 3].map((v) => v - lse),
        1e-12,
      );
    }),
  );
  test(
    "comparisons, logical ops, where, isFinite",
    scoped(() => {
      const a = tensor([1, 2, 3]);
      const b = tensor([3, 2, 1]);
      assert.deepEqual(a.eq(b).toArray(), [0, 1, 0]);
      assert.deepEqual(a.ne(2).toArray(), [1, 0, 1]);
      assert.deepEqual(a.lt(b).toArray(), [1, 0, 0]);
      assert.deepEqual(a.le(2).toArray(), [1, 1, 0]);
      assert.deepEqual(a.gt(b).toArray(), [0, 0, 1]);
      assert.deepEqual(a.ge(2).toArray(), [0, 1, 1]);
      assert.deepEqual(a.gt(1).and(a.lt(3)).toArray(), [0, 1, 0]);
      assert.deepEqual(a.lt(2).or(a.gt(2)).toArray(), [1, 0, 1]);
      assert.deepEqual(where(a.gt(1), a, b).toArray(), [3, 2, 3]);
      assert.deepEqual(tensor([1, Number.NaN, Number.POSITIVE_INFINITY]).isFinite().toArray(), [1, 0, 0]);
      assert.deepEqual(a.maskedFill(a.eq(2), -1).toArray(), [1, -1, 3]);
    }),
  );
  test(
    "gather, indexSelect, embedding pick the named elements",
    scoped(() => {
      const x = m();
      assert.deepEqual(
        x
          .gather(
            1,
            tensor(
              [
                [3, 0],
                [1, 1],
              ],
              "int64",
            ),
          )
          .toArray(),
        [1.5, 3, 9, 9],
      );
      assert.deepEqual(x.indexSelect(1, tensor([2, 0], "int64")).toArray(), [4, 3, 2, 5]);
      assert.deepEqual(embedding(x, tensor([1, 1, 0], "int64")).shape, [3, 4]);
      assert.deepEqual(embedding(x, tensor([1, 0], "int64")).toArray(), [5, 9, 2, 6, 3, 1, 4, 1.5]);
    }),
  );
  test(
    "crossEntropy and layerNorm values match a plain-JS computation",
    scoped(() => {
      const logits = [
        [1, 2, 0.5],
        [0, -1, 3],
        [2, 2, 2],
      ];
      const targets = [2, 0, -100];
      const nll = logits.map((row, i) => {
        const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
        return targets[i] < 0 ? 0 : lse - row[targets[i]];
      });
      const l = tensor(logits, "float64");
      const t = tensor(targets, "int64");
      close(crossEntropy(l, t, { reduction: "none" }).toArray(), nll, 1e-12);
      close([crossEntropy(l, t, { reduction: "sum" }).item()], [nll[0] + nll[1]], 1e-12);
      // The mean runs over the targets that are not ignored (2 of 3).
      close([crossEntropy(l, t).item()], [(nll[0] + nll[1]) / 2], 1e-12);

      const row = [1, 2, 4, 7];
      const mu = 3.5;
      const sd = Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / 4 + 1e-5);
      const w = [1, 2, 0.5, -1];
      const b = [0, 0.1, 0.2, 0.3];
      const expected = row.map((v, i) => ((v - mu) / sd) * w[i] + b[i]);
      close(layerNorm(tensor(row, "float64"), tensor(w, "float64"), tensor(b, "float64")).toArray(), expected, 1e-12);
    }),
  );
});

describe("noGrad", () => {
  test(
    "turns autograd off inside and restores the previous mode",
    scoped(() => {
      assert.equal(isGradEnabled(), true);
      const x = ones([2]).requiresGrad_();
      const y = noGrad(() => {
        assert.equal(isGradEnabled(), false);
        // Nested: still off inside, and still off after the inner scope ends.
        noGrad(() => assert.equal(isGradEnabled(), false));
        assert.equal(isGradEnabled(), false);
        return x.mul(2);
      });
      assert.equal(isGradEnabled(), true);
      assert.equal(y.requiresGrad, false);
      assert.equal(x.mul(2).requiresGrad, true);
    }),
  );
  test("restores the previous mode after a throw", () => {
    assert.throws(
      () =>
        noGrad(() => {
          throw new Error("boom");
        }),
      /boom/,
    );
    assert.equal(isGradEnabled(), true);
    // Inside an outer noGrad, a throwing inner one leaves autograd off.
    noGrad(() => {
      assert.throws(() =>
        noGrad(() => {
          throw new Error("inner");
        }),
      );
      assert.equal(isGradEnabled(), false);
    });
    assert.equal(isGradEnabled(), true);
  });
  test("returns the function's value", () => {
    assert.equal(
      noGrad(() => 42),
      42,
    );
  });
});

describe("dropout", () => {
  const input = (): Tensor => arange(1, 1001, 1, "float32").reshape([10, 100]);
  test(
    "p = 0 is the identity",
    scoped(() => {
      const x = input();
      assert.deepEqual(dropout(x, 0, new Generator(1)).toArray(), x.toArray());
    }),
  );
  test(
    "the mask is reproducible with a seed and differs between seeds",
    scoped(() => {
      const a = dropout(input(), 0.3, new Generator(9)).toArray();
      assert.deepEqual(dropout(input(), 0.3, new Generator(9)).toArray(), a);
      assert.notDeepEqual(dropout(input(), 0.3, new Generator(10)).toArray(), a);
    }),
  );
  test(
    "kept values are scaled by 1 / (1 - p); about p of them are dropped",
    scoped(() => {
      const p = 0.25;
      const x = input().toArray();
      const y = dropout(input(), p, new Generator(2)).toArray();
      let dropped = 0;
      y.forEach((v, i) => {
        if (v === 0) dropped++;
        else close([v], [x[i] / (1 - p)], 1e-3);
      });
      // 1000 Bernoulli(0.25) draws: standard deviation 13.7.
      assert.ok(Math.abs(dropped - 250) < 60, `dropped ${dropped} of 1000`);
    }),
  );
  test(
    "gradient flows through the kept elements only, scaled",
    scoped(() => {
      const x = ones([200]).requiresGrad_();
      const y = dropout(x, 0.5, new Generator(4));
      y.sum().backward();
      const g = x.grad!.toArray();
      const out = y.toArray();
      for (const [i, v] of g.entries()) assert.equal(v, out[i] === 0 ? 0 : 2);
    }),
  );
  test("p outside [0, 1) is refused", () => {
    tidy(() => {
      assert.throws(() => dropout(ones([2]), 1, new Generator(1)), /dropout: p = 1/);
      assert.throws(() => dropout(ones([2]), -0.1, new Generator(1)), /dropout: p = -0.1/);
    });
  });
});

describe("autograd basics", () => {
  test(
    "backward accumulates into .grad; grad is null before",
    scoped(() => {
      const x = tensor([1, 2, 3]).requiresGrad_();
      assert.equal(x.requiresGrad, true);
      assert.equal(x.grad, null);
      x.mul(x).sum().backward();
      assert.deepEqual(x.grad!.toArray(), [2, 4, 6]);
      x.mul(3).sum().backward();
      assert.deepEqual(x.grad!.toArray(), [5, 7, 9]);
    }),
  );
  test(
    "backward with an explicit output gradient",
    scoped(() => {
      const x = tensor([1, 2]).requiresGrad_();
      x.mul(x).backward(tensor([10, 100]));
      assert.deepEqual(x.grad!.toArray(), [20, 400]);
    }),
  );
  test(
    "detach cuts the graph; assign copies values in place",
    scoped(() => {
      const x = tensor([1, 2]).requiresGrad_();
      assert.equal(x.detach().requiresGrad, false);
      const p = zeros([2]);
      p.assign(tensor([4, 5]));
      assert.deepEqual(p.toArray(), [4, 5]);
    }),
  );
});

describe("scalar arithmetic keeps integer dtypes", () => {
  test(
    "int64 plus, minus and times a whole number stay int64; a fraction promotes to float",
    scoped(() => {
      const ids = tensor([3, 5, 7], "int64");
      const shifted = ids.sub(1);
      assert.equal(shifted.dtype, "int64");
      assert.deepEqual(shifted.toArray(), [2, 4, 6]);
      assert.equal(ids.add(2).dtype, "int64");
      assert.deepEqual(ids.mul(3).toArray(), [9, 15, 21]);
      assert.equal(ids.rsub(10).dtype, "int64");
      assert.deepEqual(ids.rsub(10).toArray(), [7, 5, 3]);
      assert.equal(ids.add(0.5).dtype, "float32");
      assert.deepEqual(ids.add(0.5).toArray(), [3.5, 5.5, 7.5]);
      assert.equal(tensor([1.5]).add(1).dtype, "float32");
    }),
  );
});
