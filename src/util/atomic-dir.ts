// Folders that appear whole (checkpoints, exports, shipped models, a stage's outputs): the folder
// is built under a temporary sibling name, every file and folder in it is flushed to disk (fsync),
// then it is renamed into place and the parent is flushed so that the rename survives a power cut.
// Readers see the old folder or the new one, never a mix. rename() cannot replace a non-empty
// folder, so an existing one first moves aside to `<dir>.old-<pid>` and is deleted once the new
// one stands; a kill between those two renames leaves both complete under their sibling names.
// A build that throws leaves the old folder as it was and removes its temporary one.
//
// Temporary names are `<dir>.tmp-<pid>` and `<dir>.old-<pid>` (isUnfinishedDir recognizes them),
// so that a rerun in the same process removes a killed attempt's leftovers before it starts,
// and callers that list a folder can skip or clear what a killed process left behind.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fsyncDir, fsyncFile } from "./atomic-file.js";

/** True for the name of a folder a build left unfinished (`<name>.tmp-<pid>`, `<name>.old-<pid>`). */
export function isUnfinishedDir(name: string): boolean {
  return /\.(tmp|old)-\d+$/.test(name);
}

/** Flushes every file and folder under dir (depth first), then dir itself. */
function fsyncTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) fsyncTree(path);
    else if (entry.isFile()) fsyncFile(path);
  }
  fsyncDir(dir);
}

const sibling = (dir: string, kind: "tmp" | "old") => join(dirname(dir), `${basename(dir)}.${kind}-${process.pid}`);

/** A fresh, empty temporary sibling of dir; the leftovers of this process's killed attempt go first. */
function begin(dir: string): string {
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = sibling(dir, "tmp");
  for (const leftover of [tmp, sibling(dir, "old")]) rmSync(leftover, { recursive: true, force: true });
  mkdirSync(tmp);
  return tmp;
}

/** Flushes the built folder and swaps it into place, replacing (never merging with) a folder there. */
function commit(tmp: string, dir: string): void {
  fsyncTree(tmp);
  const parent = dirname(dir);
  if (!existsSync(dir)) {
    renameSync(tmp, dir);
  } else {
    const old = sibling(dir, "old");
    renameSync(dir, old);
    try {
      renameSync(tmp, dir);
    } catch (error) {
      renameSync(old, dir); // put the old folder back: dir never goes missing on a failed swap
      throw error;
    }
    fsyncDir(parent);
    rmSync(old, { recursive: true, force: true });
  }
  fsyncDir(parent);
}

/** Builds dir with `build` (given the temporary folder to fill) and swaps it into place whole. */
export function writeDirAtomicSync(dir: string, build: (tmp: string) => void): void {
  const tmp = begin(dir);
  try {
    build(tmp);
    commit(tmp, dir);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}

/** As writeDirAtomicSync, for a build that awaits (the run layer's stages). */
export async function writeDirAtomic(dir: string, build: (tmp: string) => void | Promise<void>): Promise<void> {
  const tmp = begin(dir);
  try {
    await build(tmp);
    commit(tmp, dir);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}
