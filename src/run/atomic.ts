// Writes that a kill (even SIGKILL or a power cut) never leaves half done: a file is written to a
// temporary name, flushed to disk (fsync), then renamed over the target, and the folder holding it
// is flushed so that the rename itself survives; a folder is filled under a temporary name and
// renamed into place whole. The file writer is src/util/atomic-file.ts, shared by every layer.
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
import { fsyncDir, writeFileAtomic as writeAtomic } from "../util/atomic-file.js";

export { fsyncDir };

/** Writes `data` to `path` whole (src/util/atomic-file.ts), creating the folder when missing. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeAtomic(path, data);
}

function fsyncFile(path: string): void {
  const fd = openSync(path, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Pretty JSON (2 spaces, final newline), written atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** The parsed JSON at `path`, or undefined when there is no file; a file that does not parse is an error naming it. */
export function readJsonIfExists<T = unknown>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, "utf8");
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
}

/** Every regular file under `dir`, as paths relative to it with `/` separators, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() || (entry.isSymbolicLink() && statSync(path).isFile())) out.push(path);
    }
  };
  walk(dir);
  return out.map((p) => relative(dir, p).split(sep).join("/")).sort();
}

/**
 * Fills a folder under a temporary name (`fill` gets that name), flushes every file in it, then
 * renames it to `dir`, replacing a folder already there. A kill before the rename leaves only the
 * temporary folder, which the next call removes; `dir` is never seen half filled.
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => void | Promise<void>): Promise<void> {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    await fill(tmp);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  for (const file of listFiles(tmp)) fsyncFile(join(tmp, file));
  if (existsSync(dir)) {
    // rename() cannot replace a non-empty folder: move the old one aside first.
    const old = join(parent, `${basename(dir)}.old-${process.pid}`);
    rmSync(old, { recursive: true, force: true });
    renameSync(dir, old);
    renameSync(tmp, dir);
    fsyncDir(parent);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, dir);
    fsyncDir(parent);
  }
}

/** sha256 of a file's bytes, as hex. */
export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** sha256 of every file under `dir`, keyed by relative path (sorted); temporary files are left out. */
export function hashFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const file of listFiles(dir)) {
    if (/\.tmp-\d+(\/|$)/.test(file) || /\.old-\d+(\/|$)/.test(file)) continue;
    out[file] = sha256File(join(dir, file));
  }
  return out;
}
