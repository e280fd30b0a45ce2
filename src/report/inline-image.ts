// Images put into the page as `data:` URIs (the page must open from disk with nothing beside it).
// The stored images are small (64x64 PNGs on SceneWorld); a larger one is left out rather than
// let a few photos from a real dataset swell the page past a few MB.
import { readFileSync } from "node:fs";
import { mimeTypeOfPath } from "../data/image-store.js";
import { toDataUri } from "../images/data-uri.js";

/** Bytes above which an image is not inlined. */
export const MAX_INLINE_IMAGE_BYTES = 256 * 1024;

export type InlineImage = { uri: string } | { missing: string };

/** The file as a data URI, or why it is not shown. */
export function inlineImageFile(path: string): InlineImage {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (error) {
    return { missing: `cannot read ${path}: ${(error as Error).message}` };
  }
  return inlineImageBytes(bytes, path);
}

export function inlineImageBytes(bytes: Uint8Array, path: string): InlineImage {
  if (bytes.length > MAX_INLINE_IMAGE_BYTES) {
    return {
      missing: `${path} is ${Math.round(bytes.length / 1024)} KB, above the ${MAX_INLINE_IMAGE_BYTES / 1024} KB inlined`,
    };
  }
  return { uri: toDataUri({ bytes, mimeType: mimeTypeOfPath(path) }) };
}
