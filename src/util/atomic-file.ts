// Writes that a kill (even SIGKILL or a power cut) never leaves half done: the data goes to a
// unique temporary name beside the target, is flushed to disk (fsync), then renamed over the
// target, and the folder is flushed so that the rename itself survives. Readers see the old file
// or the new one, never a part. Every layer that persists state uses this one implementation.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Flushes a folder's entries (a rename inside it) to disk; filesystems that refuse are skipped. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on folders; the file data itself was already synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Flushes a written file's data to disk (read access suffices on Linux and macOS). */
export function fsyncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` (text, bytes, or byte chunks in order) to `path` whole; the folder must exist. */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const dir = dirname(path);
  const chunks = typeof data === "string" ? [Buffer.from(data, "utf8")] : data instanceof Uint8Array ? [data] : data;
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  let fd: number | undefined = openSync(tmp, "wx");
  try {
    for (const chunk of chunks) {
      for (let done = 0; done < chunk.byteLength; ) done += writeSync(fd, chunk, done, chunk.byteLength - done);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  fsyncDir(dir);
}
