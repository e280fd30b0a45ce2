// An encoded image as requests carry it (backends, serve, methods, benchmarks): the file's bytes
// and their type, not yet decoded. Owned here, with the codec that decodes it, so that image code
// needs nothing from the layers above it.

/** The encodings every layer accepts: what OpenAI-compatible servers take as data URIs. */
export type ImageMimeType = "image/png" | "image/jpeg";

/** An encoded image as it would travel over HTTP; backends decode and resize it themselves. */
export interface ChatImage {
  bytes: Uint8Array;
  mimeType: ImageMimeType;
}
