// WebP input, as image folders hold it: the codec and every backend take PNG and JPEG only (what
// OpenAI-compatible servers are sure to read), so a WebP file is checked like them (header first,
// pixel limit, a damaged file is an error) and re-encoded once as a lossless PNG of its pixels.
import sharp from "sharp";
import { DEFAULT_MAX_PIXELS, type DecodeOptions, encodePng } from "./codec.js";
import { ImageError } from "./errors.js";

/** RIFF....WEBP */
export function isWebp(bytes: Uint8Array): boolean {
  const tag = (at: number, s: string) => [...s].every((c, i) => bytes[at + i] === c.charCodeAt(0));
  return bytes.length >= 12 && tag(0, "RIFF") && tag(8, "WEBP");
}

/** The WebP image's pixels as PNG bytes (alpha dropped, as decodeImage drops it). */
export async function webpToPng(bytes: Uint8Array, options: DecodeOptions = {}): Promise<Uint8Array> {
  const source = options.source ?? "image";
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch (error) {
    throw new ImageError(source, "corrupt", `webp does not decode (${(error as Error).message})`);
  }
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
    const { data, info } = await sharp(bytes, { failOn: "warning", limitInputPixels: maxPixels })
      .toColourspace("srgb")
      .removeAlpha()
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return encodePng({ width: info.width, height: info.height, data: new Uint8Array(data) });
  } catch (error) {
    throw new ImageError(source, "corrupt", `webp does not decode (${(error as Error).message})`);
  }
}
