import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeImage, encodeJpeg, encodePng, type RgbImage } from "../../src/images/codec.js";
import { applyJitter, colorJitter, downscaledSize, downscaleShortSide, drawJitter } from "../../src/images/corrupt.js";
import { ImageError } from "../../src/images/errors.js";
import { mulberry32 } from "../../src/util/prng.js";

function solid(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) data.set(rgb, p * 3);
  return { width, height, data };
}

function pattern(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([(x * 9) % 256, (y * 13) % 256, (x * y) % 256], (y * width + x) * 3);
  }
  return { width, height, data };
}

const mean = (data: Uint8Array) => data.reduce((s, v) => s + v, 0) / data.length;

/** Hue in turns of an RGB pixel (0 for grey). */
function hueOf(r: number, g: number, b: number): number {
  const max = Math.max(r, g, b);
  const d = max - Math.min(r, g, b);
  if (d === 0) return 0;
  const h = max === r ? (g - b) / d : max === g ? 2 + (b - r) / d : 4 + (r - g) / d;
  return (((h / 6) % 1) + 1) % 1;
}

test("downscale: short side to 20 px keeping the aspect ratio, as torchvision's Resize(20) sizes it", async () => {
  const square = await downscaleShortSide(await encodePng(pattern(64, 64)), 20);
  assert.equal(square.changed, true);
  assert.deepEqual([square.width, square.height], [20, 20]);
  assert.equal(square.image.mimeType, "image/png");
  const back = await decodeImage(square.image.bytes);
  assert.deepEqual([back.width, back.height, back.format], [20, 20, "png"]);

  const wide = await downscaleShortSide(await encodeJpeg(pattern(100, 50)), 20);
  assert.deepEqual([wide.width, wide.height, wide.image.mimeType], [40, 20, "image/png"]);
  // 20 * 67 / 30 = 44.67: torchvision truncates the long side.
  assert.deepEqual(downscaledSize(30, 67, 20), { width: 20, height: 44 });
  assert.deepEqual(downscaledSize(67, 30, 20), { width: 44, height: 20 });
});

test("downscale: an image whose short side is already <= 20 px comes back unchanged, and says so", async () => {
  const bytes = await encodePng(pattern(30, 15));
  const out = await downscaleShortSide(bytes, 20);
  assert.equal(out.changed, false);
  assert.equal(out.image.bytes, bytes);
  assert.deepEqual([out.width, out.height, out.image.mimeType], [30, 15, "image/png"]);
  const exact = await downscaleShortSide(await encodeJpeg(pattern(20, 40)), 20);
  assert.deepEqual([exact.changed, exact.image.mimeType], [false, "image/jpeg"]);
});

test("jitter is deterministic given the rng's seed, and differs with another seed", async () => {
  const bytes = await encodePng(pattern(64, 64));
  const a = await colorJitter(bytes, { brightness: 0.5, hue: 0.3 }, mulberry32(7));
  const b = await colorJitter(bytes, { brightness: 0.5, hue: 0.3 }, mulberry32(7));
  const c = await colorJitter(bytes, { brightness: 0.5, hue: 0.3 }, mulberry32(8));
  assert.deepEqual(a.params, b.params);
  assert.deepEqual(Buffer.from(a.image.bytes), Buffer.from(b.image.bytes));
  assert.notDeepEqual(Buffer.from(a.image.bytes), Buffer.from(c.image.bytes));
  assert.equal(a.image.mimeType, "image/png");
});

test("jitter draws within torchvision's ranges: brightness [0.5, 1.5], hue [-0.3, 0.3], both orders", () => {
  const rng = mulberry32(1);
  const orders = new Set<string>();
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < 2000; i++) {
    const p = drawJitter({ brightness: 0.5, hue: 0.3 }, rng);
    assert.ok(p.brightnessFactor >= 0.5 && p.brightnessFactor < 1.5);
    assert.ok(p.hueShift >= -0.3 && p.hueShift < 0.3);
    lo = Math.min(lo, p.hueShift);
    hi = Math.max(hi, p.hueShift);
    orders.add(p.order);
  }
  assert.ok(lo < -0.29 && hi > 0.29, `hue range seen: ${lo}..${hi}`);
  assert.deepEqual([...orders].sort(), ["brightness-first", "hue-first"]);
  assert.throws(() => drawJitter({ brightness: 0.5, hue: 0.6 }, rng), /hue 0.6 must be in \[0, 0.5\]/);
});

test("brightness scales the mean pixel value by the drawn factor (grey: hue has no effect)", async () => {
  const bytes = await encodePng(solid(16, 16, [120, 120, 120]));
  for (const seed of [1, 2, 3, 4, 5]) {
    const out = await colorJitter(bytes, { brightness: 0.5, hue: 0.3 }, mulberry32(seed));
    const decoded = await decodeImage(out.image.bytes);
    // Expected: 120 * factor, rounded once (factor <= 1.5 keeps 180 below the clamp).
    assert.ok(Math.abs(mean(decoded.data) - 120 * out.params.brightnessFactor) <= 0.5, `seed ${seed}`);
  }
  const half = applyJitter(solid(2, 2, [200, 100, 50]), { brightnessFactor: 0.5, hueShift: 0, order: "hue-first" });
  assert.deepEqual([...half.data.slice(0, 3)], [100, 50, 25]);
  const clamped = applyJitter(solid(1, 1, [200, 100, 50]), {
    brightnessFactor: 1.5,
    hueShift: 0,
    order: "brightness-first",
  });
  assert.deepEqual([...clamped.data], [255, 150, 75]);
});

test("hue rotates a pure red image: a third of a turn gives green, minus a third gives blue", async () => {
  const red = solid(4, 4, [255, 0, 0]);
  const green = applyJitter(red, { brightnessFactor: 1, hueShift: 1 / 3, order: "brightness-first" });
  assert.deepEqual([...green.data.slice(0, 3)], [0, 255, 0]);
  const blue = applyJitter(red, { brightnessFactor: 1, hueShift: -1 / 3, order: "hue-first" });
  assert.deepEqual([...blue.data.slice(0, 3)], [0, 0, 255]);
  // A sixth of a turn: yellow.
  assert.deepEqual(
    [...applyJitter(red, { brightnessFactor: 1, hueShift: 1 / 6, order: "hue-first" }).data.slice(0, 3)],
    [255, 255, 0],
  );
  // Through colorJitter, the output's hue is the drawn shift (within 8-bit rounding).
  const out = await colorJitter(await encodePng(red), { brightness: 0, hue: 0.3 }, mulberry32(3));
  const px = (await decodeImage(out.image.bytes)).data;
  const want = ((out.params.hueShift % 1) + 1) % 1;
  const got = hueOf(px[0], px[1], px[2]);
  assert.ok(Math.min(Math.abs(got - want), 1 - Math.abs(got - want)) < 0.005, `hue ${got} vs ${want}`);
  assert.equal(out.params.brightnessFactor, 1);
});

test("corrupt input is refused with an error naming the image", async () => {
  const png = await encodePng(pattern(32, 32));
  const broken = png.slice(0, 40);
  await assert.rejects(downscaleShortSide(broken, 20, { source: "item cat-7" }), (error: unknown) => {
    assert.ok(error instanceof ImageError);
    assert.equal(error.source, "item cat-7");
    assert.match(error.message, /^item cat-7: /);
    return true;
  });
  await assert.rejects(
    colorJitter(new Uint8Array([1, 2, 3, 4]), { brightness: 0.5, hue: 0.3 }, mulberry32(1), { source: "dog.png" }),
    (error: unknown) =>
      error instanceof ImageError && error.problem === "not_an_image" && /^dog\.png: /.test(error.message),
  );
});
