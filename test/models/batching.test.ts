// The padded batch and the one padded forward pass (src/models/batching.ts): padding, left or
// right, must not change any row's logits. The reference for each row is the same model run on
// that row alone, unpadded; batches may take other kernels, hence a float tolerance.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { noGrad, setNumThreads, tensorFrom, tidy } from "../../src/engine/index.js";
import { leftPadBatch, type PaddedBatch, paddedForward } from "../../src/models/batching.js";
import { VLM } from "../../src/models/vlm.js";

setNumThreads(1);

const PAD = 0;
const IMAGE = 4;
const model = new VLM(
  {
    vision: { imageSize: 8, patchSize: 4, dim: 32, layers: 1, heads: 2, mlpDim: 64 },
    projectorHidden: 64,
    decoder: { dim: 64, layers: 2, heads: 4, mlpDim: 128, maxPositions: 64, ropeBase: 10000 },
    vocabSize: 40,
    imageTokenId: IMAGE,
  },
  { seed: 3 },
);
after(() => model.dispose());

const image = (seed: number) => Float32Array.from({ length: 3 * 8 * 8 }, (_, i) => ((i * 37 + seed * 11) % 97) / 97);
const imageTokens = Array(model.numImageTokens).fill(IMAGE);
// Rows of different lengths, with and without an image.
const seqs = [
  [5, ...imageTokens, 9, 10, 11],
  [12, 13],
  [6, ...imageTokens, 7],
  [20, 21, 22, 23, 24, 25],
];
const images: (Float32Array | null)[] = [image(1), null, image(2), null];

/** logits (T, V) of one row run alone, unpadded. */
function alone(seq: number[], im: Float32Array | null): Float32Array {
  return noGrad(() => tidy(() => paddedForward(model, leftPadBatch(model, PAD, [seq], [im])).logits.toFloat32()));
}

/** The same rows right-padded, as training batches them. */
function rightPadBatch(): PaddedBatch {
  const T = Math.max(...seqs.map((s) => s.length));
  const ids = new BigInt64Array(seqs.length * T).fill(BigInt(PAD));
  const mask = new Uint8Array(seqs.length * T);
  for (const [b, s] of seqs.entries()) {
    for (const [t, id] of s.entries()) {
      ids[b * T + t] = BigInt(id);
      mask[b * T + t] = 1;
    }
  }
  const withImage = images.filter((im): im is Float32Array => im !== null);
  const pixels = new Float32Array(withImage.length * 3 * 8 * 8);
  for (const [i, im] of withImage.entries()) pixels.set(im, i * im.length);
  return {
    ids: tensorFrom(ids, [seqs.length, T]),
    keyMask: tensorFrom(mask, [seqs.length, T]).ne(0),
    pixels: tensorFrom(pixels, [withImage.length, 3, 8, 8]),
  };
}

function assertClose(got: Float32Array, want: Float32Array, where: string): void {
  assert.equal(got.length, want.length, where);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst <= 1e-4, `${where}: max difference ${worst}`);
}

test("leftPadBatch: rows right-aligned after pad ids, a key mask false on padding, only the given images", () => {
  tidy(() => {
    const batch = leftPadBatch(model, PAD, [[5, 6, 7], [8]], [null, null]);
    assert.deepEqual(batch.ids.shape, [2, 3]);
    assert.deepEqual(batch.ids.toArray(), [5, 6, 7, PAD, PAD, 8]);
    assert.deepEqual(batch.keyMask.toArray(), [1, 1, 1, 0, 0, 1]);
    assert.equal(batch.pixels, null);
    const withImage = leftPadBatch(model, PAD, seqs, images);
    assert.deepEqual(withImage.pixels?.shape, [2, 3, 8, 8]);
    assert.deepEqual(withImage.pixels?.select(0, 1).reshape([-1]).toFloat32(), images[2]);
  });
});

test("paddedForward: every row of a left- or right-padded batch gets the logits it gets alone", () => {
  const V = model.config.vocabSize;
  const want = seqs.map((s, b) => alone(s, images[b]));
  const T = Math.max(...seqs.map((s) => s.length));
  for (const [name, make] of [
    ["left", () => leftPadBatch(model, PAD, seqs, images)],
    ["right", rightPadBatch],
  ] as const) {
    const logits = noGrad(() => tidy(() => paddedForward(model, make()).logits.toFloat32())); // (B, T, V)
    seqs.forEach((s, b) => {
      const first = name === "left" ? T - s.length : 0;
      const row = logits.subarray((b * T + first) * V, (b * T + first + s.length) * V);
      assertClose(row, want[b], `${name}-padded row ${b}`);
    });
    assert.ok(logits.every(Number.isFinite), `${name}: padded positions give finite logits too`);
  }
});

test("paddedForward: lastOnly and logitsFrom give the last columns of the full logits", () => {
  const V = model.config.vocabSize;
  const T = Math.max(...seqs.map((s) => s.length));
  noGrad(() =>
    tidy(() => {
      const batch = leftPadBatch(model, PAD, seqs, images);
      const full = paddedForward(model, batch).logits; // (B, T, V)
      const last = paddedForward(model, batch, { lastOnly: true }).logits;
      assert.deepEqual(last.shape, [seqs.length, 1, V]);
      assertClose(
        last.toFloat32(),
        full
          .slice(1, T - 1)
          .contiguous()
          .toFloat32(),
        "lastOnly",
      );
      const from = paddedForward(model, batch, { logitsFrom: T - 3 }).logits;
      assert.deepEqual(from.shape, [seqs.length, 3, V]);
      assertClose(
        from.toFloat32(),
        full
          .slice(1, T - 3)
          .contiguous()
          .toFloat32(),
        "logitsFrom",
      );
    }),
  );
});
