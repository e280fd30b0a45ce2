// `data:` URIs as OpenAI-compatible servers take images: `data:image/png;base64,<payload>`
// (RFC 2397). Only base64 payloads of PNG or JPEG; the payload is checked strictly, since
// Node's base64 decoder silently skips characters it does not know.
import type { ChatImage, ImageMimeType } from "./chat-image.js";
import { ImageError } from "./errors.js";

const MIME_TYPES: Record<string, ImageMimeType> = {
  "image/png": "image/png",
  "image/jpeg": "image/jpeg",
  "image/jpg": "image/jpeg", // not registered, but common
};

/** Whitespace is allowed (line-wrapped base64); `=` padding may be left out. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The image bytes and type of a data URI; anything else is an ImageError. */
export function parseDataUri(uri: string, source = "image_url"): ChatImage {
  if (typeof uri !== "string" || !uri.startsWith("data:")) {
    const shown = typeof uri === "string" ? `${uri.slice(0, 40)}${uri.length > 40 ? "..." : ""}` : typeof uri;
    throw new ImageError(source, "bad_data_uri", `expected a data: URI (data:image/png;base64,...), got ${shown}`);
  }
  const comma = uri.indexOf(",");
  if (comma < 0) throw new ImageError(source, "bad_data_uri", "data URI has no ',' before its payload");
  const header = uri.slice(5, comma).split(";");
  const mime = header[0].trim().toLowerCase();
  const mimeType = MIME_TYPES[mime];
  if (mimeType === undefined) {
    throw new ImageError(
      source,
      "unsupported_format",
      `data URI type ${JSON.stringify(mime)} is not supported (image/png or image/jpeg)`,
    );
  }
  if (!header.slice(1).some((p) => p.trim().toLowerCase() === "base64")) {
    throw new ImageError(source, "bad_data_uri", "data URI is not base64-encoded (';base64' missing)");
  }
  const payload = uri.slice(comma + 1).replace(/\s+/g, "");
  if (!BASE64.test(payload) || payload.length % 4 === 1) {
    throw new ImageError(source, "bad_base64", "data URI payload is not valid base64");
  }
  const bytes = new Uint8Array(Buffer.from(payload, "base64"));
  if (bytes.length === 0) throw new ImageError(source, "bad_base64", "data URI payload is empty");
  return { bytes, mimeType };
}

/** `data:<mime>;base64,<bytes>`. */
export function toDataUri(image: ChatImage): string {
  return `data:${image.mimeType};base64,${Buffer.from(image.bytes).toString("base64")}`;
}
