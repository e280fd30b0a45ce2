// The fused paths of layers.ts (one QKV GEMM and the whole attention in one native call, gate and
// up as one GEMM, baddbmm attention scores) against the unfused op-by-op paths: values and every
// gradient; and the no-grad weight cache, which must be rebuilt after an optimizer step or assign.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AdamW,
  attention,
  cat,
  full,
  Generator,
  liveTensorCount,
  noGrad,
  ones,
  randn,
  rmsNorm,
  setNumThreads,
  type Tensor,
  tidy,
  where,
  zeros,
} from "../../src/engine/index.js";
import {
  type AttentionInput,
  DecoderBlock,
  ParamStore,
  positionRange,
  rotaryTables,
  SelfAttention,
} from "../../src/models/layers.js";

setNumThreads(1);

const B = 2;
const T = 5;
const C = 16;
const H = 4;

function maxDiff(a: Tensor, b: Tensor): number {
  const x = a.toFloat32();
  const y = b.toFloat32();
  assert.equal(x.length, y.length);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  return worst;
}

type Forward = (fused: boolean, x: Tensor) => Tensor[];

/** Runs forward fused and unfused: equal outputs, equal gradients of x and of every parameter. */
function assertSameFusedUnfused(store: ParamStore, x: Tensor, forward: Forward, tol = 1e-5): void {
  const params = [...store.params.entries()];
  const run = (fused: boolean) =>
    tidy(() => {
      const xg = x.detach().requiresGrad_();
      const outs = forward(fused, xg);
      const gen = new Generator(99);
      let loss: Tensor | null = null;
      for (const o of outs) {
        const term = o.mul(randn(o.shape, gen)).sum();
        loss = loss === null ? term : loss.add(term);
      }
      (loss as Tensor).backward();
      const grads = [["x", xg.grad] as const, ...params.map(([name, p]) => [name, p.grad] as const)];
      return { outs: outs.map((o) => o.detach()), grads };
    });
  const a = run(true);
  zeroGrads(params.map(([, p]) => p));
  const b = run(false);
  zeroGrads(params.map(([, p]) => p));
  a.outs.forEach((o, i) => {
    assert.ok(maxDiff(o, b.outs[i]) <= tol, `output ${i}: ${maxDiff(o, b.outs[i])}`);
  });
  a.grads.forEach(([name, g], i) => {
    const h = b.grads[i][1];
    assert.ok(g !== null && h !== null, `${name} has a gradient`);
    assert.ok(maxDiff(g, h) <= tol, `gradient of ${name}: ${maxDiff(g, h)}`);
  });
}

function zeroGrads(params: Tensor[]): void {
  const opt = new AdamW(params, { lr: 0 });
  opt.zeroGrad();
  opt.dispose();
}

function causal(tq: number, tk: number): Tensor {
  return ones([tq, tk], "bool")
    .tril(tk - tq)
    .reshape([1, 1, tq, tk]);
}

describe("fused layers equal their unfused forms", () => {
  test("decoder self-attention: rotary, causal mask, KV cache; values and gradients", () => {
    const store = new ParamStore(new Generator(1));
    const attn = new SelfAttention(store, "a", C, H, false);
    const gen = new Generator(2);
    const x = randn([B, T, C], gen);
    const past = { k: randn([B, H, 3, C / H], gen), v: randn([B, H, 3, C / H], gen) };
    // Per-row padding mask over the cache and the new positions, as generation makes it.
    const keyMask = ones([B, 3 + T], "bool").maskedFill(randn([B, 3 + T], gen).gt(1.2), 0);
    const mask = causal(T, 3 + T)
      .and(keyMask.reshape([B, 1, 1, 3 + T]))
      .or(causal(T, 3 + T).triu(3));
    const rope = rotaryTables(positionRange(T, 3), C / H);
    const input: AttentionInput = { mask, rope, cache: past };
    assertSameFusedUnfused(store, x, (fused, x) => {
      const r = attn.forward(x, input, { fused });
      return [r.out, r.cache.k, r.cache.v];
    });
    const noCache: AttentionInput = { mask: causal(T, T), rope: rotaryTables(positionRange(T), C / H) };
    assertSameFusedUnfused(store, x, (fused, x) => [attn.forward(x, noCache, { fused }).out]);
    store.dispose();
  });

  test("ViT self-attention with biases and no mask", () => {
    const store = new ParamStore(new Generator(3));
    const attn = new SelfAttention(store, "v", C, H, true);
    noGrad(() => {
      for (const [name, p] of store.params) if (name.endsWith(".bias")) p.assign(randn(p.shape, new Generator(4)));
    });
    const x = randn([B, T, C], new Generator(5));
    assertSameFusedUnfused(store, x, (fused, x) => [attn.forward(x, { mask: null, rope: null }, { fused }).out]);
    store.dispose();
  });

  test("decoder block (fused QKV and gate/up); LoRA adapters take the unfused path", () => {
    const store = new ParamStore(new Generator(6));
    const block = new DecoderBlock(store, "layers.0", C, H, 32);
    const x = randn([B, T, C], new Generator(7));
    const input: AttentionInput = { mask: causal(T, T), rope: rotaryTables(positionRange(T), C / H) };
    assertSameFusedUnfused(store, x, (fused, x) => [block.forward(x, input, { fused }).out]);
    // With adapters (B != 0 so that they matter) the default path must equal the unfused one.
    for (const l of block.linears()) l.addLora(store, { r: 2, alpha: 4, dropout: 0, targetModules: [] });
    noGrad(() => {
      for (const l of block.linears()) l.lora?.b.assign(randn(l.lora.b.shape, new Generator(8)));
    });
    const a = noGrad(() => block.forward(x, input).out);
    const b = noGrad(() => block.forward(x, input, { fused: false }).out);
    assert.ok(maxDiff(a, b) === 0, "adapters active: the unfused path runs");
    block.attn.q.loraEnabled = false; // one adapter off is not enough: the others still apply
    assert.ok(
      maxDiff(
        noGrad(() => block.forward(x, input).out),
        noGrad(() => block.forward(x, input, { fused: false }).out),
      ) === 0,
    );
    store.dispose();
  });

  test("attention: a bool mask and the equivalent additive bias give the same result", () => {
    const gen = new Generator(9);
    const q = randn([B, H, T, 8], gen);
    const k = randn([B, H, T, 8], gen);
    const v = randn([B, H, T, 8], gen);
    const mask = causal(T, T);
    const bias = where(mask, zeros([1]), zeros([1]).add(Number.NEGATIVE_INFINITY));
    assert.equal(maxDiff(attention(q, k, v, mask), attention(q, k, v, bias)), 0);
  });
});

// attentionBlock's pastLength (inference only): the new keys and values written into a cache
// buffer with spare columns, in place, must give what the concatenating path gives; the spare
// columns (NaN here) are never read; a full buffer grows into a copy that keeps the past; and
// under autograd it is refused (an in-place write would corrupt a saved tensor).
describe("KV cache written in place (appendInPlace, attentionBlock's pastLength)", () => {
  const store = new ParamStore(new Generator(21));
  const attn = new SelfAttention(store, "a", C, H, false);
  const gen = new Generator(22);
  const D = C / H;
  const P = 3; // past columns
  const x = noGrad(() => randn([B, T, C], gen));
  const past = noGrad(() => ({ k: randn([B, H, P, D], gen), v: randn([B, H, P, D], gen) }));
  const input = (cache: AttentionInput["cache"], appendInPlace: boolean): AttentionInput => ({
    mask: causal(T, P + T),
    rope: rotaryTables(positionRange(T, P), D),
    cache,
    appendInPlace,
  });
  /** A buffer of `capacity` columns: the past, then NaN. */
  const buffer = (t: Tensor, capacity: number) => noGrad(() => cat([t, full([B, H, capacity - P, D], Number.NaN)], 2));

  test("equals the concatenating path, with the spare columns never read; the buffer is written in place", () => {
    noGrad(() => {
      const want = attn.forward(x, input(past, false));
      const k = buffer(past.k, P + T + 4);
      const v = buffer(past.v, P + T + 4);
      const got = attn.forward(x, input({ k, v, length: P }, true));
      assert.equal(got.cache.length, P + T);
      assert.deepEqual(got.cache.k.shape, [B, H, P + T + 4, D], "the same capacity: no copy");
      assert.ok(maxDiff(got.out, want.out) <= 1e-6);
      assert.equal(maxDiff(got.cache.k.slice(2, 0, P + T), want.cache.k), 0);
      assert.equal(maxDiff(got.cache.v.slice(2, 0, P + T), want.cache.v), 0);
      // The caller's buffer holds the new keys: the write went into its storage.
      assert.equal(maxDiff(k.slice(2, 0, P + T), want.cache.k), 0);
      // The concatenating path leaves a cache with spare room as it was, and reads only its length.
      const again = attn.forward(x, input({ k, v, length: P }, false));
      assert.ok(maxDiff(again.out, want.out) <= 1e-6);
      assert.deepEqual(again.cache.k.shape, [B, H, P + T, D]);
    });
  });

  test("a full buffer grows by half into a copy that keeps the past", () => {
    noGrad(() => {
      const want = attn.forward(x, input(past, false));
      const k = buffer(past.k, P + 1);
      const got = attn.forward(x, input({ k, v: buffer(past.v, P + 1), length: P }, true));
      assert.ok(got.cache.k.size(2) >= P + T, `capacity ${got.cache.k.size(2)}`);
      assert.ok(maxDiff(got.out, want.out) <= 1e-6);
      assert.equal(maxDiff(got.cache.k.slice(2, 0, P + T), want.cache.k), 0);
      assert.equal(maxDiff(got.cache.v.slice(2, 0, P + T), want.cache.v), 0);
      assert.ok(Number.isNaN(k.slice(2, P).toFloat32()[0]), "the old buffer untouched");
    });
  });

  test("refused under autograd: inference only", () => {
    const k = buffer(past.k, P + T);
    const v = buffer(past.v, P + T);
    assert.throws(() => attn.forward(x, input({ k, v, length: P }, true)), /inference only/);
  });
});

describe("no-grad weight cache", () => {
  test("rebuilt after an optimizer step and after assign; never counted as a live tensor", () => {
    const store = new ParamStore(new Generator(10));
    const block = new DecoderBlock(store, "layers.0", C, H, 32);
    const x = randn([B, T, C], new Generator(11));
    const input: AttentionInput = { mask: causal(T, T), rope: rotaryTables(positionRange(T), C / H) };
    const fusedNoGrad = () => noGrad(() => block.forward(x, input).out);
    const unfusedNoGrad = () => noGrad(() => block.forward(x, input, { fused: false }).out);
    const live = liveTensorCount();
    const first = tidy(() => fusedNoGrad().toFloat32()); // fills the cache
    assert.equal(liveTensorCount(), live, "the cached concatenations are not live tensors");
    assert.ok(maxDiff(fusedNoGrad(), unfusedNoGrad()) <= 1e-6);

    // An optimizer step changes every weight in place: the cache must follow.
    const params = [...store.params.values()];
    const versions = params.map((p) => p.version);
    const opt = new AdamW(params, { lr: 0.05 });
    tidy(() => block.forward(x, input).out.pow(2).sum().backward());
    opt.stepOnce();
    opt.zeroGrad();
    params.forEach((p, i) => {
      assert.ok(p.version > versions[i], "a step bumps the version counter");
    });
    const afterStep = fusedNoGrad();
    assert.ok(maxDiff(afterStep, unfusedNoGrad()) <= 1e-6, "cache rebuilt after the step");
    assert.ok(Math.max(...afterStep.toFloat32().map((v, i) => Math.abs(v - first[i]))) > 1e-3);

    // assign (loading weights) too: only the up projection changes.
    const v0 = block.up.weight.version;
    noGrad(() => block.up.weight.assign(randn(block.up.weight.shape, new Generator(12))));
    assert.ok(block.up.weight.version > v0);
    assert.ok(maxDiff(fusedNoGrad(), unfusedNoGrad()) <= 1e-6, "cache rebuilt after assign");
    noGrad(() => block.attn.k.weight.assign(zeros(block.attn.k.weight.shape)));
    assert.ok(maxDiff(fusedNoGrad(), unfusedNoGrad()) <= 1e-6, "cache rebuilt after assign to k");
    opt.dispose();
    store.dispose();
  });
});

describe("fused RMSNorm kernel (float32)", () => {
  test("equals x * rsqrt(mean(x^2) + eps) * w, values and gradients", () => {
    const gen = new Generator(13);
    const x0 = randn([3, 7, 64], gen);
    const w0 = randn([64], gen).add(1);
    const dy = randn([3, 7, 64], gen);
    const run = (fused: boolean) =>
      tidy(() => {
        const x = x0.detach().requiresGrad_();
        const w = w0.detach().requiresGrad_();
        const y = fused ? rmsNorm(x, w, 1e-6) : x.mul(x.pow(2).mean(-1, true).add(1e-6).rsqrt()).mul(w);
        y.mul(dy).sum().backward();
        return [y.detach(), x.grad as Tensor, w.grad as Tensor];
      });
    const a = run(true);
    const b = run(false);
    ["y", "dx", "dw"].forEach((what, i) => {
      assert.ok(maxDiff(a[i], b[i]) <= 2e-5, `${what}: ${maxDiff(a[i], b[i])}`);
    });
  });
});
