// Writes that a kill (even SIGKILL or a power cut) never leaves half done: a file is written to a
// temporary name, flushed to disk (fsync), then renamed over the target, and the folder holding it
// is flushed so that the rename itself survives; a folder is filled under a temporary name and
// renamed into place whole. The writers are src/util/atomic-file.ts and src/util/atomic-dir.ts,
// shared by every layer; this module adds what runs need on top (JSON, hashes of outputs).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { isUnfinishedDir, writeDirAtomic } from "../util/atomic-dir.js";
import { fsyncDir, writeFileAtomic as writeAtomic } from "../util/atomic-file.js";

export { fsyncDir, writeDirAtomic };

/** Writes `data` to `path` whole (src/util/atomic-file.ts), creating the folder when missing. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeAtomic(path, data);
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

/** sha256 of a file's bytes, as hex. */
export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** sha256 of every file under `dir`, keyed by relative path (sorted); temporary files are left out. */
export function hashFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const file of listFiles(dir)) {
    if (file.split("/").some(isUnfinishedDir)) continue;
    out[file] = sha256File(join(dir, file));
  }
  return out;
}
