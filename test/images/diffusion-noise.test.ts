import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeImage, encodePng, type RgbImage } from "../../src/images/codec.js";
import {
  alphaBars,
  CLIP_NORMALIZE,
  diffusionNoise,
  noiseRgb,
  sigmoidBetas,
  standardNormal,
} from "../../src/images/diffusion-noise.js";
import { mulberry32 } from "../../src/util/prng.js";

const close = (actual: number, expected: number, tol: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} not within ${tol} of ${expected}`);

function solid(size: number, value: number): RgbImage {
  return { width: size, height: size, data: new Uint8Array(size * size * 3).fill(value) };
}

test("the sigmoid schedule: β and ᾱ at t = 0, 1, 900 and 999", () => {
  const betas = sigmoidBetas();
  const abar = alphaBars();
  assert.equal(betas.length, 1000);
  // By hand: sigmoid(-6) = 1 / (1 + e^6) = 0.0024726232; β_0 = 0.0024726232 · 0.00499 + 1e-5.
  const beta0 = (1 / (1 + Math.exp(6))) * 0.00499 + 1e-5;
  close(beta0, 2.23384e-5, 1e-10, "β_0 by hand");
  close(betas[0], beta0, 1e-15, "β_0");
  // The last step: sigmoid(6) = 0.9975273768; β_999 = 0.9975273768 · 0.00499 + 1e-5 = 0.0049876616.
  close(betas[999], 0.0049876616, 1e-10, "β_999");
  // ᾱ_0 is 1 - β_0 (the code's cumprod starts at step 0), and ᾱ_1 = (1 - β_0)(1 - β_1), with
  // β_1 = sigmoid(-6 + 12/999) · 0.00499 + 1e-5 = 2.2487119e-5.
  close(abar[0], 1 - beta0, 1e-15, "ᾱ_0");
  close(abar[1], (1 - beta0) * (1 - 2.2487119e-5), 1e-12, "ᾱ_1");
  // ᾱ_900 and ᾱ_999 from the schedule's product in float64, computed apart from this code:
  //   python3 -c "import math; b=[1/(1+math.exp(6-12*i/999))*(5e-3-1e-5)+1e-5 for i in range(1000)];
  //               p=1; [p:=p*(1-x) for x in b[:901]]; print(p)"
  // gives 0.13314316195394763 (t = 900) and 0.0812491943039999 (t = 999). Rough check: the
  // betas sum to about 2.0 up to t = 900, and exp(-2.0) = 0.135.
  close(abar[900], 0.13314316195394763, 1e-12, "ᾱ_900");
  close(abar[999], 0.0812491943039999, 1e-12, "ᾱ_999");
  // sqrt(ᾱ_900) = 0.3649: the signal kept at BPO's default step.
  close(Math.sqrt(abar[900]), 0.3648879, 1e-6, "sqrt(ᾱ_900)");
  for (let i = 1; i < 1000; i++) assert.ok(abar[i] < abar[i - 1], "ᾱ decreases");
  assert.throws(() => sigmoidBetas(1), /steps 1/);
});

test("standard normal draws have mean 0 and variance 1", () => {
  const u = mulberry32(3);
  const n = 40_000;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const z = standardNormal(u);
    sum += z;
    sq += z * z;
  }
  // Standard errors: 1/sqrt(n) = 0.005 for the mean, sqrt(2/n) = 0.007 for the variance.
  close(sum / n, 0, 0.025, "mean");
  close(sq / n - (sum / n) ** 2, 1, 0.035, "variance");
});

test("x_t of a mid-grey image: mean kept, spread sqrt(1 - ᾱ_t) in the normalized space", () => {
  // A 64x64 image at 128 (x0 = 128/255·2 - 1 = 0.00392 in [-1, 1]). At t = 500, ᾱ = 0.7455 and
  // noise std sqrt(1 - ᾱ) = 0.504 in [-1, 1], i.e. 0.504 · 127.5 = 64.3 levels. A value clips when
  // it leaves 128 ± 127.5 levels, |z| > 1.98: P = 2 · 0.0239 = 0.048 (normal table). The
  // output's std is then a little under 64.
  const abar = alphaBars()[500];
  const { image, clipped } = noiseRgb(solid(64, 128), { t: 500 }, mulberry32(1));
  const values = [...image.data];
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  close(mean, 127.5 + Math.sqrt(abar) * 0.5, 2, "mean");
  close(sd, Math.sqrt(1 - abar) * 127.5, 4, "std");
  close(clipped, 0.048, 0.008, "clipped share");
  // At t = 0 the noise std is 0.0047 · 127.5 = 0.6 levels: the image barely changes.
  const t0 = noiseRgb(solid(8, 128), { t: 0 }, mulberry32(1));
  assert.ok(t0.image.data.every((v) => Math.abs(v - 128) <= 3));
});

test("the same stream gives the same noise; another stream another; PNG out", async () => {
  const image = solid(16, 200);
  const a = noiseRgb(image, { t: 900 }, mulberry32(7));
  const b = noiseRgb(image, { t: 900 }, mulberry32(7));
  const c = noiseRgb(image, { t: 900 }, mulberry32(8));
  assert.deepEqual(a.image.data, b.image.data);
  assert.notDeepEqual(a.image.data, c.image.data);
  // At t = 900 a white-ish image loses most of its signal: sqrt(ᾱ) 0.365, so its mean moves to
  // 127.5 + 0.365 · (200 - 127.5) = 154 before clipping; clipping of the tails moves it a little.
  const mean = a.image.data.reduce((s, v) => s + v, 0) / a.image.data.length;
  close(mean, 154, 12, "mean at t = 900");
  assert.ok(a.clipped > 0.1, `clipped ${a.clipped} at t = 900`);
  const encoded = await diffusionNoise(await encodePng(image), { t: 900 }, mulberry32(7));
  assert.equal(encoded.image.mimeType, "image/png");
  assert.deepEqual((await decodeImage(encoded.image.bytes)).data, a.image.data);
});

test("CLIP normalization: a wider space, so the same step clips less", () => {
  const image = solid(32, 128);
  const wide = noiseRgb(image, { t: 900, normalize: CLIP_NORMALIZE }, mulberry32(2));
  const unit = noiseRgb(image, { t: 900 }, mulberry32(2));
  // One normalized unit is 0.27 · 255 = 69 levels under CLIP's std against 127.5 under 0.5.
  assert.ok(wide.clipped < unit.clipped, `${wide.clipped} < ${unit.clipped}`);
});

test("bad steps and normalizations are refused", () => {
  assert.throws(() => noiseRgb(solid(2, 0), { t: 1000 }, mulberry32(1)), /t 1000 must be an integer in \[0, 999\]/);
  assert.throws(() => noiseRgb(solid(2, 0), { t: -1 }, mulberry32(1)), /t -1/);
  assert.throws(
    () => noiseRgb(solid(2, 0), { t: 1, normalize: { mean: [0, 0, 0], std: [1, 0, 1] } }, mulberry32(1)),
    /positive stds/,
  );
});
