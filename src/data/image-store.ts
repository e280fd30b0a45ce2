// The image store of a dataset: every image lives once under `<root>/images/<sha256>.<ext>`,
// named by the hash of its bytes (DESIGN.md, Data). Content addressing makes writes idempotent
// (the same picture synthesized twice is stored once), lets a reader verify what it reads, and
// gives records stable, short, relative paths that survive copying the dataset elsewhere.
//
// Every path a record names is resolved with resolveInside: records come from files that other
// tools (and other people) write, and an image path like `../../etc/passwd` or a symlink planted in
// `images/` must never make an exporter read or write outside the dataset.

import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { ImageMimeType } from "../images/chat-image.js";
import { decodeImage, type ImageFormat } from "../images/codec.js";
import { ImageError } from "../images/errors.js";
import { fsyncDir, writeFileAtomic } from "../util/atomic-file.js";

/** A path that is absolute, escapes the dataset root, or reaches outside it through a symlink. */
export class PathEscapeError extends Error {
  override name = "PathEscapeError";
}

/** True when `child` (absolute, normalized) is `parent` or lies below it. */
function isWithin(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * The real path of `path` when it need not exist: the deepest ancestor that exists (lstat, so a
 * dangling symlink counts as existing) is resolved and the missing tail re-attached. Null when
 * that ancestor cannot be resolved (a dangling or looping symlink).
 */
function realpathDeep(path: string): string | null {
  let existing = path;
  const tail: string[] = [];
  for (;;) {
    try {
      lstatSync(existing);
      break;
    } catch {
      const parent = dirname(existing);
      if (parent === existing) break;
      tail.unshift(basename(existing));
      existing = parent;
    }
  }
  try {
    return join(realpathSync(existing), ...tail);
  } catch {
    return null;
  }
}

/**
 * The absolute path of `relativePath` inside `root`, after checking that it stays there:
 * absolute paths (POSIX or Windows style), NUL bytes, `..` segments that climb above the root,
 * and paths that leave the root through a symlink (the file itself or any folder on the way)
 * are refused with a PathEscapeError that names `where` (the record or input) and the path.
 * The path need not exist: the deepest existing ancestor is resolved, so a symlinked folder
 * is caught before anything is written through it.
 */
export function resolveInside(root: string, relativePath: string, where: string): string {
  const refuse = (why: string) =>
    new PathEscapeError(`${where}: path ${JSON.stringify(relativePath)} ${why} (dataset root ${root})`);
  if (typeof relativePath !== "string" || relativePath.length === 0) throw refuse("is empty");
  if (relativePath.includes("\0")) throw refuse("contains a NUL byte");
  if (isAbsolute(relativePath) || /^[A-Za-z]:[\\/]/.test(relativePath) || relativePath.startsWith("\\")) {
    throw refuse("is absolute; record paths are relative to the dataset root");
  }
  const rootAbs = resolve(root);
  const target = resolve(rootAbs, relativePath);
  if (!isWithin(rootAbs, target)) throw refuse("escapes the dataset root");

  // Symlinks: compare real paths, so a link anywhere on the way (the file, `images/`) that
  // points elsewhere is caught, also before the file exists.
  const realRoot = realpathDeep(rootAbs) ?? rootAbs;
  const realTarget = realpathDeep(target);
  if (realTarget === null) throw refuse("goes through a symlink that does not resolve");
  if (!isWithin(realRoot, realTarget)) throw refuse("resolves outside the dataset root (symlink)");
  return target;
}

const EXTENSION: Record<ImageMimeType, "png" | "jpg"> = { "image/png": "png", "image/jpeg": "jpg" };
const FORMAT: Record<ImageMimeType, ImageFormat> = { "image/png": "png", "image/jpeg": "jpeg" };

/** The mime type a record's image path names by its extension (.jpg/.jpeg: JPEG, else PNG). */
export function mimeTypeOfPath(path: string): ImageMimeType {
  return /\.jpe?g$/i.test(path) ? "image/jpeg" : "image/png";
}

/** The store path of these bytes: `images/<sha256>.png|jpg` (no check that they are an image). */
export function imagePathFor(bytes: Uint8Array, mimeType: ImageMimeType): string {
  return `images/${createHash("sha256").update(bytes).digest("hex")}.${EXTENSION[mimeType]}`;
}

export { fsyncDir, writeFileAtomic };

/** The content-addressed images of one dataset root. */
export class ImageStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /**
   * Stores the bytes of a PNG or JPEG image and returns its path relative to the root,
   * `images/<sha256>.png|jpg`. The bytes are decoded first: a corrupt image, or one whose
   * bytes are not the declared format, is refused with an ImageError naming `where`.
   * Idempotent: an image already stored is not written again.
   */
  async put(bytes: Uint8Array, mimeType: ImageMimeType, where = "image"): Promise<string> {
    const format = FORMAT[mimeType];
    if (format === undefined) {
      throw new ImageError(
        where,
        "unsupported_format",
        `mime type ${JSON.stringify(mimeType)} is not image/png or image/jpeg`,
      );
    }
    const decoded = await decodeImage(bytes, { source: where });
    if (decoded.format !== format) {
      throw new ImageError(
        where,
        "unsupported_format",
        `declared ${mimeType} but the bytes are a ${decoded.format} image`,
      );
    }
    const path = imagePathFor(bytes, mimeType);
    const file = resolveInside(this.root, path, where);
    if (existsSync(file)) return path;
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(file, bytes);
    // Records that name this image are fsynced after it: make the image's directory entry durable first.
    fsyncDir(dirname(file));
    return path;
  }

  /** The absolute file of a store path, checked to stay inside the root. */
  resolve(path: string, where = path): string {
    return resolveInside(this.root, path, where);
  }

  has(path: string, where = path): boolean {
    return existsSync(this.resolve(path, where));
  }

  /**
   * The bytes of a stored image. For a content-addressed name the hash is verified, so a file
   * damaged after it was stored is reported (naming `where`) rather than silently trained on.
   */
  read(path: string, where = path): Uint8Array {
    const file = this.resolve(path, where);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch (error) {
      throw new Error(`${where}: cannot read image ${path}: ${(error as Error).message}`);
    }
    const named = /^images\/([0-9a-f]{64})\.(png|jpg)$/.exec(path);
    if (named !== null) {
      const actual = createHash("sha256").update(bytes).digest("hex");
      if (actual !== named[1]) {
        throw new ImageError(where, "corrupt", `${path}: the stored bytes hash to ${actual}, not to the name`);
      }
    }
    return bytes;
  }
}
