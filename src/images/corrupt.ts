// STIC's image corruptions (METHODS.md section 1; repo yihedeng9/STIC, stic/generate_pref.py):
// the rejected side of half the preference pairs is the policy's answer about a corrupted copy
// of the image, corrupted 50/50 by
//   - torchvision `T.Resize(size=20)`: the short side shrunk to 20 px, keeping the aspect
//     ratio (the model's processor upsamples it again, so the model sees a blurred image), or
//   - torchvision `T.ColorJitter(brightness=0.5, hue=0.3)`: a brightness factor drawn from
//     [0.5, 1.5] and a hue shift drawn from [-0.3, 0.3] of a full turn, applied in random order.
//
// Random draws come from a caller-supplied uniform generator (util/prng.ts mulberry32), so a
// corruption is a pure function of (bytes, options, rng state). Outputs are PNG bytes (lossless:
// the corruption is the only change).
//
// Choices, and where they depart from torchvision:
//   - Resize: the long side is int(20 * long / short) as torchvision computes it, with an
//     antialiased linear kernel (libvips' `linear` reduces like PIL's BILINEAR, which
//     torchvision uses on PIL images). An image whose short side is already <= 20 px is
//     returned as it is (`changed: false`): torchvision would upsample a smaller one to 20,
//     which is not a corruption.
//   - Jitter: done on raw pixels with torchvision's tensor formulas (brightness: multiply and
//     clamp; hue: RGB -> HSV, shift H modulo 1, HSV -> RGB) in floats, rounded once at the end.
//     Not sharp's modulate({hue}): libvips rotates hue in LCh, a different colour space, so a
//     given shift would not mean what it means to torchvision. The PIL path STIC ran differs by
//     rounding only (PIL quantizes hue to 1/256 of a turn and rounds between the two steps).
import sharp from "sharp";
import type { ChatImage, ImageMimeType } from "./chat-image.js";
import { decodeImage, encodePng, type RgbImage } from "./codec.js";

export interface CorruptOptions {
  /** Names the image in errors (an item id, a path). */
  source?: string;
}

export interface DownscaleResult {
  /** PNG bytes, or the input as it was when `changed` is false. */
  image: ChatImage;
  width: number;
  height: number;
  /** False when the short side was already at most the target (the input is returned as is). */
  changed: boolean;
}

export interface JitterOptions {
  /** Brightness factor drawn uniformly from [max(0, 1 - brightness), 1 + brightness]. */
  brightness: number;
  /** Hue shift drawn uniformly from [-hue, hue] of a full turn; hue in [0, 0.5]. */
  hue: number;
}

/** What a jitter drew: enough to replay it with applyJitter and to record it. */
export interface JitterParams {
  brightnessFactor: number;
  /** In turns (1 = 360 degrees). */
  hueShift: number;
  /** Which was applied first (torchvision draws a random order of its enabled transforms). */
  order: "brightness-first" | "hue-first";
}

export interface JitterResult {
  image: ChatImage;
  params: JitterParams;
}

/** STIC's settings. */
export const STIC_DOWNSCALE_SHORT_SIDE = 20;
export const STIC_JITTER: Readonly<JitterOptions> = { brightness: 0.5, hue: 0.3 };

const mimeOf = (format: "png" | "jpeg"): ImageMimeType => (format === "png" ? "image/png" : "image/jpeg");

/** The size torchvision's Resize(size=shortSide) gives: short side = shortSide, long side truncated. */
export function downscaledSize(width: number, height: number, shortSide: number): { width: number; height: number } {
  if (width <= height) return { width: shortSide, height: Math.trunc((shortSide * height) / width) };
  return { width: Math.trunc((shortSide * width) / height), height: shortSide };
}

/** Shrinks the image so that its short side is `shortSide` px, keeping the aspect ratio. */
export async function downscaleShortSide(
  bytes: Uint8Array,
  shortSide: number = STIC_DOWNSCALE_SHORT_SIDE,
  options: CorruptOptions = {},
): Promise<DownscaleResult> {
  if (!Number.isInteger(shortSide) || shortSide < 1) {
    throw new RangeError(`downscaleShortSide: shortSide ${shortSide} must be a positive integer`);
  }
  const source = options.source ?? "image";
  const decoded = await decodeImage(bytes, { source });
  if (Math.min(decoded.width, decoded.height) <= shortSide) {
    return {
      image: { bytes, mimeType: mimeOf(decoded.format) },
      width: decoded.width,
      height: decoded.height,
      changed: false,
    };
  }
  const size = downscaledSize(decoded.width, decoded.height, shortSide);
  const png = await sharp(decoded.data, { raw: { width: decoded.width, height: decoded.height, channels: 3 } })
    .resize(size.width, size.height, { fit: "fill", kernel: "linear", fastShrinkOnLoad: false })
    .png()
    .toBuffer();
  return { image: { bytes: new Uint8Array(png), mimeType: "image/png" }, ...size, changed: true };
}

/** Draws jitter parameters in torchvision's order: the transform order, then brightness, then hue. */
export function drawJitter(options: JitterOptions, rng: () => number): JitterParams {
  const { brightness, hue } = options;
  if (!(brightness >= 0)) throw new RangeError(`colorJitter: brightness ${brightness} must be >= 0`);
  if (!(hue >= 0 && hue <= 0.5)) throw new RangeError(`colorJitter: hue ${hue} must be in [0, 0.5]`);
  const order = rng() < 0.5 ? "brightness-first" : "hue-first";
  const lo = Math.max(0, 1 - brightness);
  const brightnessFactor = lo + (1 + brightness - lo) * rng();
  const hueShift = -hue + 2 * hue * rng();
  return { brightnessFactor, hueShift, order };
}

/** RGB in [0, 1] -> HSV in [0, 1] (torchvision's _rgb2hsv), in place in `out`. */
function rgbToHsv(r: number, g: number, b: number, out: number[]): void {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const delta = max - min;
  let h = 0;
  if (delta > 0) {
    if (max === r) h = (g - b) / delta;
    else if (max === g) h = 2 + (b - r) / delta;
    else h = 4 + (r - g) / delta;
    h = (((h / 6) % 1) + 1) % 1;
  }
  out[0] = h;
  out[1] = max === 0 ? 0 : delta / max;
  out[2] = max;
}

/** HSV in [0, 1] -> RGB in [0, 1] (torchvision's _hsv2rgb), in place in `out`. */
function hsvToRgb(h: number, s: number, v: number, out: number[]): void {
  const h6 = h * 6;
  const i = Math.floor(h6) % 6;
  const f = h6 - Math.floor(h6);
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const t = v * (1 - s * (1 - f));
  const table = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ][i];
  out[0] = table[0];
  out[1] = table[1];
  out[2] = table[2];
}

/** Applies drawn jitter parameters to an RGB image (a new image; the input is untouched). */
export function applyJitter(image: RgbImage, params: JitterParams): RgbImage {
  const { brightnessFactor, hueShift, order } = params;
  const out = new Uint8Array(image.data.length);
  const hsv = [0, 0, 0];
  const rgb = [0, 0, 0];
  const bright = (x: number) => Math.min(1, Math.max(0, x * brightnessFactor));
  for (let p = 0; p < image.data.length; p += 3) {
    let r = image.data[p] / 255;
    let g = image.data[p + 1] / 255;
    let b = image.data[p + 2] / 255;
    if (order === "brightness-first") [r, g, b] = [bright(r), bright(g), bright(b)];
    rgbToHsv(r, g, b, hsv);
    hsvToRgb((((hsv[0] + hueShift) % 1) + 1) % 1, hsv[1], hsv[2], rgb);
    [r, g, b] = rgb;
    if (order === "hue-first") [r, g, b] = [bright(r), bright(g), bright(b)];
    out[p] = Math.round(r * 255);
    out[p + 1] = Math.round(g * 255);
    out[p + 2] = Math.round(b * 255);
  }
  return { width: image.width, height: image.height, data: out };
}

/** torchvision's ColorJitter(brightness, hue) with parameters drawn from `rng`; PNG output. */
export async function colorJitter(
  bytes: Uint8Array,
  options: JitterOptions,
  rng: () => number,
  corruptOptions: CorruptOptions = {},
): Promise<JitterResult> {
  const params = drawJitter(options, rng);
  const decoded = await decodeImage(bytes, { source: corruptOptions.source ?? "image" });
  const png = await encodePng(applyJitter(decoded, params));
  return { image: { bytes: png, mimeType: "image/png" }, params };
}
