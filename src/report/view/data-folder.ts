// The folder `selfsynth view` shows: a stage's dataset (`pairs.jsonl`, `drops.jsonl`, ...,
// `images/`) or an export folder (TRL JSONL, LLaVA or LLaMA-Factory JSON, `images/`). Its record
// files are the `*.jsonl` files directly inside it (listRecordFiles, as every dataset reader
// takes them) and the `*.json` files that hold a JSON array (the LLaVA and LLaMA-Factory exports;
// `dataset_info.json` and BPO's `diagnostics.json` are objects, not records).
import { closeSync, existsSync, openSync, readdirSync, readSync, realpathSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { listRecordFiles } from "../../data/dataset.js";
import type { EntryLayout } from "./entries.js";

export class ViewError extends Error {
  override name = "ViewError";
}

export interface RecordFileInfo {
  /** The file's name, directly inside the folder. */
  name: string;
  layout: EntryLayout;
}

export interface DataFolder {
  /** The folder's real path (symlinks resolved): every served file must lie under it. */
  root: string;
  files: RecordFileInfo[];
}

/** Checks the folder and lists its record files; a ViewError names the path and the problem. */
export function openDataFolder(path: string): DataFolder {
  if (!existsSync(path)) throw new ViewError(`${path}: no such folder`);
  if (!statSync(path).isDirectory()) {
    throw new ViewError(`${path}: not a folder (give a stage's data folder or an export folder)`);
  }
  const root = realpathSync(path);
  let files: RecordFileInfo[];
  try {
    files = listViewableFiles(root);
  } catch (error) {
    throw new ViewError(`${path}: cannot list the folder: ${(error as Error).message}`);
  }
  if (files.length === 0) throw new ViewError(`${path}: ${noRecordsProblem(root)}`);
  return { root, files };
}

/** The record files of the folder, sorted by name (read again on every listing: stages add files). */
export function listViewableFiles(root: string): RecordFileInfo[] {
  const jsonl = listRecordFiles(root).map((p) => ({ name: basename(p), layout: "jsonl" as const }));
  const arrays = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".json") && startsWithBracket(join(root, e.name)))
    .map((e) => ({ name: e.name, layout: "json-array" as const }));
  return [...jsonl, ...arrays].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether the file's first byte that is not whitespace is `[` (a JSON array); false when unreadable. */
function startsWithBracket(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return false;
  }
  try {
    const buffer = Buffer.alloc(4096);
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, read).toString("latin1").trimStart();
    return text.startsWith("[");
  } finally {
    closeSync(fd);
  }
}

function noRecordsProblem(root: string): string {
  const names = readdirSync(root);
  const expected =
    "expected *.jsonl record files (pairs.jsonl, drops.jsonl, ...) or the *.jsonl / *.json files of `selfsynth export`";
  if (names.length === 0) return `no record files: the folder is empty (${expected})`;
  const parquet = names.some((n) => n.endsWith(".parquet"))
    ? "; Parquet exports (trl-parquet) are not viewable, export as trl-jsonl to view one"
    : "";
  const shown = names.slice(0, 8).join(", ") + (names.length > 8 ? `, ... (${names.length} entries)` : "");
  return `no record files (${expected}); found: ${shown}${parquet}`;
}
