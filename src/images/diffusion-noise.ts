// The forward diffusion process as BPO's image weakening uses it (METHODS.md section 2; Pi et al.
// 2024, arXiv 2403.08730; the schedule is VCD's `add_diffusion_noise`, which BPO's released code
// imports):
//
//   β_i = sigmoid(linspace(-6, 6, 1000)_i) · (5e-3 - 1e-5) + 1e-5,   i = 0 .. 999
//   ᾱ_t = ∏_{i=0..t} (1 - β_i)                (so ᾱ_0 = 1 - β_0, not 1: the code's cumprod)
//   x_t = sqrt(ᾱ_t) · x_0 + sqrt(1 - ᾱ_t) · ε,  ε ~ N(0, I), one draw per pixel and channel
//
// x_0 is the normalized pixel tensor: (value / 255 - mean) / std per channel. This function's
// default, mean 0.5 and std 0.5, gives [-1, 1] (DDPM's convention; the embedded VLM reads raw
// [0, 1] pixels and has no normalization of its own). LLaVA-1.5's CLIP processor, where the
// paper added its noise, normalizes with CLIP's mean and std (CLIP_NORMALIZE): BPO's stage uses
// that by default, so that the noise has the paper's size relative to the image.
//
// Where this departs from the code: the noised tensor goes back to an 8-bit PNG (images travel
// between the layers, and to served models, encoded: src/images/chat-image.ts), so values that
// leave the pixel range are clipped and the rest rounded to 1/255. The code hands the unclipped
// float tensor to the model. At t = 900 (sqrt(ᾱ) 0.365, noise std 0.931 in [-1, 1]) a large
// share of values is clipped; `clipped` reports it per image. Sums and products run in float64
// (torch: float32; the schedule's values differ in the 7th digit).
import type { ChatImage } from "./chat-image.js";
import { decodeImage, encodePng, type RgbImage } from "./codec.js";

/** The number of diffusion steps of the schedule (t runs over 0 .. 999). */
export const DIFFUSION_STEPS = 1000;

/** BPO's default noise step. */
export const BPO_NOISE_STEP = 900;

/** Per-channel normalization of pixels in [0, 1]: x0 = (x - mean) / std. */
export interface PixelNormalize {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** To [-1, 1]: the default. */
export const MINUS_ONE_ONE: PixelNormalize = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

/** OpenAI CLIP's processor normalization (LLaVA-1.5's image processor). */
export const CLIP_NORMALIZE: PixelNormalize = {
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
};

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** β_0 .. β_{steps-1} of the sigmoid schedule (float64). */
export function sigmoidBetas(steps = DIFFUSION_STEPS): Float64Array {
  if (!Number.isInteger(steps) || steps < 2)
    throw new RangeError(`sigmoidBetas: steps ${steps} must be an integer >= 2`);
  const betas = new Float64Array(steps);
  for (let i = 0; i < steps; i++) betas[i] = sigmoid(-6 + (12 * i) / (steps - 1)) * (5e-3 - 1e-5) + 1e-5;
  return betas;
}

/** ᾱ_0 .. ᾱ_{steps-1}: the cumulative products of 1 - β. */
export function alphaBars(steps = DIFFUSION_STEPS): Float64Array {
  const betas = sigmoidBetas(steps);
  const out = new Float64Array(steps);
  let product = 1;
  for (let i = 0; i < steps; i++) {
    product *= 1 - betas[i];
    out[i] = product;
  }
  return out;
}

/** A standard normal draw from a uniform stream (Box-Muller, one of the pair kept: simple and exact). */
export function standardNormal(uniform: () => number): number {
  const u1 = 1 - uniform(); // (0, 1]: log(0) never happens
  const u2 = uniform();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

export interface DiffusionNoiseOptions {
  /** The step, 0 .. 999 (BPO: 900). */
  t: number;
  /** Default MINUS_ONE_ONE. */
  normalize?: PixelNormalize;
}

export interface NoisedImage {
  image: RgbImage;
  /** The share of values clipped to 0 or 255 on the way back to 8 bits. */
  clipped: number;
}

function checkOptions(options: DiffusionNoiseOptions): PixelNormalize {
  const { t } = options;
  if (!Number.isInteger(t) || t < 0 || t >= DIFFUSION_STEPS)
    throw new RangeError(`diffusion noise: t ${t} must be an integer in [0, ${DIFFUSION_STEPS - 1}]`);
  const n = options.normalize ?? MINUS_ONE_ONE;
  if (
    n.mean.length !== 3 ||
    n.std.length !== 3 ||
    n.std.some((s) => !(s > 0)) ||
    n.mean.some((m) => !Number.isFinite(m))
  )
    throw new RangeError("diffusion noise: normalize needs 3 finite means and 3 positive stds");
  return n;
}

/**
 * x_t of an 8-bit RGB image, back in 8 bits. ε is drawn from `uniform` pixel by pixel in row-major
 * order, the three channels of a pixel in turn, so a given stream always gives the same image.
 */
export function noiseRgb(image: RgbImage, options: DiffusionNoiseOptions, uniform: () => number): NoisedImage {
  const n = checkOptions(options);
  const abar = alphaBars()[options.t];
  const signal = Math.sqrt(abar);
  const spread = Math.sqrt(1 - abar);
  const out = new Uint8Array(image.data.length);
  let clipped = 0;
  for (let i = 0; i < image.data.length; i++) {
    const c = i % 3;
    const x0 = (image.data[i] / 255 - n.mean[c]) / n.std[c];
    const xt = signal * x0 + spread * standardNormal(uniform);
    const v = Math.round((xt * n.std[c] + n.mean[c]) * 255);
    if (v < 0 || v > 255) clipped++;
    out[i] = Math.min(255, Math.max(0, v));
  }
  return { image: { width: image.width, height: image.height, data: out }, clipped: clipped / image.data.length };
}

/** Decodes an encoded image, noises it (noiseRgb) and returns PNG bytes. */
export async function diffusionNoise(
  bytes: Uint8Array,
  options: DiffusionNoiseOptions,
  uniform: () => number,
  source = "image",
): Promise<{ image: ChatImage; clipped: number }> {
  checkOptions(options);
  const decoded = await decodeImage(bytes, { source });
  const noised = noiseRgb(decoded, options, uniform);
  return { image: { bytes: await encodePng(noised.image), mimeType: "image/png" }, clipped: noised.clipped };
}
