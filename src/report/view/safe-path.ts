// Which file a request may read: only regular files under the data folder. The request's path is
// checked as the client sent it (Node does not normalize it) and again once decoded, so `..`
// written plainly, percent-encoded (`%2e%2e`, `..%2F`) or with backslashes is refused before
// any lookup; absolute paths and symlinks that lead out are refused by resolveInside, which
// compares real paths (the rule every reader of dataset paths follows, src/data/image-store.ts).
import { statSync } from "node:fs";
import { PathEscapeError, resolveInside } from "../../data/image-store.js";

export type PathCheck = { ok: true; path: string } | { ok: false; status: 400 | 403; message: string };

/** The decoded request path, or why it is refused: bad percent-encoding (400), a `..` segment or NUL (403). */
export function checkRequestPath(rawPath: string): PathCheck {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return { ok: false, status: 400, message: `${rawPath}: malformed percent-encoding` };
  }
  if (path.includes("\0")) return { ok: false, status: 403, message: `${rawPath}: the path holds a NUL byte` };
  if (hasParentSegment(rawPath) || hasParentSegment(path)) {
    return {
      ok: false,
      status: 403,
      message: `${rawPath}: ".." would leave the data folder; only files under it are served`,
    };
  }
  return { ok: true, path };
}

/** Whether a path has a `..` segment (separated by `/` or `\`). */
export function hasParentSegment(path: string): boolean {
  return path.split(/[\\/]/).some((segment) => segment === "..");
}

export type FileCheck = { ok: true; file: string } | { ok: false; status: 403 | 404; message: string };

/** The absolute file of `relative` (a decoded path below /files/) when it is a regular file under root. */
export function servedFile(root: string, relative: string): FileCheck {
  let file: string;
  try {
    file = resolveInside(root, relative, "request");
  } catch (error) {
    if (error instanceof PathEscapeError) {
      return { ok: false, status: 403, message: `${error.message}; only files under the data folder are served` };
    }
    throw error;
  }
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch {
    return { ok: false, status: 404, message: `${relative}: no such file in the data folder` };
  }
  if (!isFile) return { ok: false, status: 404, message: `${relative}: not a file` };
  return { ok: true, file };
}
