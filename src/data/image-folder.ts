// Images that benchmark files name by file name inside a folder the user gives (POPE's `image`,
// COCO's `file_name`). Each file goes through the project's decode checks (src/images: format,
// pixel limit, corruption) before any model sees it, and an image that cannot be used comes back
// as a reason code with a message naming the file, so that one bad file of thousands is reported
// and skipped instead of stopping an evaluation mid-way.
import { existsSync, readFileSync } from "node:fs";
import type { ChatImage } from "../images/chat-image.js";
import { DEFAULT_MAX_PIXELS, decodeImage } from "../images/codec.js";
import { ImageError, type ImageProblem } from "../images/errors.js";
import { PathEscapeError, resolveInside } from "./image-store.js";

/** Why an image was not used: the decoder's problem codes, a missing file, or a path outside the folder. */
export type FolderImageProblem = ImageProblem | "missing" | "outside_folder" | "unreadable";

export type FolderImage =
  | { ok: true; image: ChatImage; path: string }
  | { ok: false; problem: FolderImageProblem; message: string };

export interface ImageFolderOptions {
  /** Largest width * height accepted (default DEFAULT_MAX_PIXELS, as `serve`). */
  maxPixels?: number;
}

/** Reads images from one folder, each file once (POPE asks six questions about each image). */
export class ImageFolder {
  readonly #cache = new Map<string, Promise<FolderImage>>();

  constructor(
    readonly root: string,
    readonly options: ImageFolderOptions = {},
  ) {
    if (!existsSync(root)) throw new Error(`image folder ${root} does not exist`);
  }

  read(fileName: string): Promise<FolderImage> {
    let pending = this.#cache.get(fileName);
    if (pending === undefined) {
      pending = this.#load(fileName);
      this.#cache.set(fileName, pending);
    }
    return pending;
  }

  async #load(fileName: string): Promise<FolderImage> {
    let path: string;
    try {
      path = resolveInside(this.root, fileName, `image folder ${this.root}`);
    } catch (error) {
      if (error instanceof PathEscapeError) return { ok: false, problem: "outside_folder", message: error.message };
      throw error;
    }
    if (!existsSync(path)) return { ok: false, problem: "missing", message: `${path}: no such file` };
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(path));
    } catch (error) {
      return { ok: false, problem: "unreadable", message: `${path}: ${(error as Error).message}` };
    }
    try {
      // Decoded only to check it: the bytes travel as they are, and each backend decodes them
      // itself (the embedded one and `serve` alike), so both see the same pixels.
      const decoded = await decodeImage(bytes, {
        source: path,
        maxPixels: this.options.maxPixels ?? DEFAULT_MAX_PIXELS,
      });
      return { ok: true, image: { bytes, mimeType: decoded.format === "png" ? "image/png" : "image/jpeg" }, path };
    } catch (error) {
      if (error instanceof ImageError) return { ok: false, problem: error.problem, message: error.message };
      throw error;
    }
  }
}
