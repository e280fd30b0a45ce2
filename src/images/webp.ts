// WebP input, as image folders hold it: the codec and every backend take PNG and JPEG only (what
// OpenAI-compatible servers are sure to read), so a WebP file is checked like them (header first,
// pixel limit, a damaged file is an error) and re-encoded once as a lossless PNG of its pixels.
import sharp from "sharp";
import { DEFAULT_MAX_PIXELS, type DecodeOptions, decodeRgbChecked, encodePng } from "./codec.js";
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
  return encodePng(await decodeRgbChecked(bytes, meta, "webp", source, maxPixels));
}
