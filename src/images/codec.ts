// Decoding, encoding and resizing images with sharp (libvips). Decoded images are 8-bit RGB,
// interleaved (H, W, 3), row-major: the common currency between files, HTTP requests and the
// model's input, which is channels-first floats (3, S, S) in [0, 1] (models/generate.ts).
//
// Conventions chosen to match what Python pipelines (PIL, Hugging Face processors, vLLM) do:
//   - alpha is dropped, not composited (PIL's `Image.convert("RGB")`); grey images become RGB;
//   - EXIF orientation is not applied (PIL's `Image.open` does not either);
//   - resizing to the model's square input ignores the aspect ratio and uses bicubic
//     interpolation with a = -0.5 (Catmull-Rom: sharp's `cubic` kernel, PIL's `BICUBIC`), the
//     kernel of CLIP-style processors; an image already at the model's size is used as is.
import sharp from "sharp";
import { ImageError } from "./errors.js";

/** An 8-bit RGB image, interleaved (H, W, 3), row-major. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array; // length width * height * 3
}

export type ImageFormat = "png" | "jpeg";
export const SUPPORTED_FORMATS: readonly ImageFormat[] = ["png", "jpeg"];

/** 4096 x 4096: far above any input the embedded models use, small enough to decode safely. */
export const DEFAULT_MAX_PIXELS = 4096 * 4096;

export interface DecodeOptions {
  /** Largest width * height accepted; checked from the header before decoding (default 4096^2). */
  maxPixels?: number;
  /** Names the image in errors (a path, a request field). */
  source?: string;
}

export interface DecodedImage extends RgbImage {
  format: ImageFormat;
}

/** The format named by the file's signature (PNG: 89 'PNG' 0D 0A 1A 0A; JPEG: FF D8 FF). */
function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  return null;
}

/** Decodes PNG or JPEG bytes to RGB; anything else, or a broken file, is an ImageError. */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodedImage> {
  const source = options.source ?? "image";
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.length === 0) throw new ImageError(source, "not_an_image", "empty (0 bytes)");
  let meta: sharp.Metadata;
  try {
    // Reads the header only: format and size are checked before any pixel is decoded, so a
    // small file that would expand into billions of pixels is refused cheaply.
    meta = await sharp(bytes).metadata();
  } catch (error) {
    const sniffed = sniffFormat(bytes);
    const why = (error as Error).message;
    if (sniffed !== null) throw new ImageError(source, "corrupt", `${sniffed} does not decode (${why})`);
    throw new ImageError(source, "not_an_image", `not an image (${why})`);
  }
  const format = meta.format === "jpg" ? "jpeg" : meta.format;
  if (!SUPPORTED_FORMATS.includes(format as ImageFormat)) {
    throw new ImageError(source, "unsupported_format", `format ${format} is not supported (PNG or JPEG)`);
  }
  const image = await decodeRgbChecked(bytes, meta, format as string, source, maxPixels);
  return { ...image, format: format as ImageFormat };
}

/**
 * The checks and decoding every input format shares, once its header (`meta`) is read: a size in
 * the header, at most `maxPixels` pixels (refused before any pixel is decoded), and pixels that
 * decode whole into RGB; `format` names the format in the errors.
 */
export async function decodeRgbChecked(
  bytes: Uint8Array,
  meta: sharp.Metadata,
  format: string,
  source: string,
  maxPixels: number,
): Promise<RgbImage> {
  const { width, height } = meta;
  if (width === undefined || height === undefined) throw new ImageError(source, "corrupt", "no image size in header");
  if (width * height > maxPixels) {
    throw new ImageError(
      source,
      "too_many_pixels",
      `${width}x${height} = ${width * height} pixels, more than the limit of ${maxPixels}`,
    );
  }
  try {
    // failOn "warning": a truncated or damaged file is an error, not a half-grey picture.
    const { data, info } = await sharp(bytes, { failOn: "warning", limitInputPixels: maxPixels })
      .toColourspace("srgb")
      .removeAlpha()
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data) };
  } catch (error) {
    throw new ImageError(source, "corrupt", `${format} does not decode (${(error as Error).message})`);
  }
}

function checkRgb(image: RgbImage, source: string): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageError(source, "bad_size", `bad size ${width}x${height}`);
  }
  if (data.length !== width * height * 3) {
    throw new ImageError(source, "bad_size", `${data.length} bytes for ${width}x${height}x3`);
  }
}

/**
 * The model's input: (3, size, size) floats in [0, 1], channels first (value / 255), resized
 * with the bicubic kernel described in the header when the image is not already size x size.
 */
export async function toModelInput(image: RgbImage, size: number, source = "image"): Promise<Float32Array> {
  checkRgb(image, source);
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`toModelInput: size ${size} must be a positive integer`);
  let rgb = image.data;
  if (image.width !== size || image.height !== size) {
    rgb = new Uint8Array(
      await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
        .resize(size, size, { fit: "fill", kernel: "cubic", fastShrinkOnLoad: false })
        .raw()
        .toBuffer(),
    );
  }
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    out[p] = rgb[p * 3] / 255;
    out[plane + p] = rgb[p * 3 + 1] / 255;
    out[2 * plane + p] = rgb[p * 3 + 2] / 255;
  }
  return out;
}

/** The inverse of toModelInput for a (3, size, size) float image: values are clamped and rounded. */
export function fromModelInput(pixels: Float32Array, size: number): RgbImage {
  const plane = size * size;
  if (pixels.length !== 3 * plane) {
    throw new RangeError(`fromModelInput: ${pixels.length} values, expected 3*${size}*${size} = ${3 * plane}`);
  }
  const data = new Uint8Array(3 * plane);
  const byte = (v: number) => Math.round(Math.min(1, Math.max(0, Number.isNaN(v) ? 0 : v)) * 255);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) data[p * 3 + c] = byte(pixels[c * plane + p]);
  }
  return { width: size, height: size, data };
}

/** Lossless PNG bytes of an RGB image. */
export async function encodePng(image: RgbImage): Promise<Uint8Array> {
  checkRgb(image, "encodePng");
  const buffer = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toBuffer();
  return new Uint8Array(buffer);
}

/** JPEG bytes of an RGB image (lossy; quality 1..100). */
export async function encodeJpeg(image: RgbImage, quality = 90): Promise<Uint8Array> {
  checkRgb(image, "encodeJpeg");
  const buffer = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
  return new Uint8Array(buffer);
}
