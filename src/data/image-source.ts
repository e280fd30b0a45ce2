// The user's own images as a stage's unlabeled pool (what SceneWorld's pool split is otherwise):
//   { folder: DIR }                 every PNG, JPEG and WebP file under DIR, recursively;
//   { jsonl: FILE }                 one {"image": path, ...} record a line (path inside FILE's folder);
//   { parquet: FILE, column?: C }   a Hugging Face `datasets` Parquet file whose Image column
//                                   (struct {bytes, path}) holds the images (or paths to them).
// A source whose shape is wrong (a missing or empty folder, a line without `image`, a file with no
// Image column) is an ImageSourceError naming the file and the problem, before any image is read.
// Each image then goes through the project's decode checks (src/images: format, pixel limit,
// corruption; WebP re-encoded as PNG); one that cannot be used comes back as a drop with a reason
// code and a message naming it, never as a crash, so one bad file of thousands is counted and
// skipped. Items are listed in a fixed order (paths sorted, lines and rows in file order) and a
// stage draws its seeded subset from that list, so a rerun works on the same images.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { z } from "zod";
import type { ChatImage } from "../images/chat-image.js";
import { DEFAULT_MAX_PIXELS, decodeImage } from "../images/codec.js";
import { ImageError } from "../images/errors.js";
import { isWebp, webpToPng } from "../images/webp.js";
import { mulberry32 } from "../util/prng.js";
import type { FolderImageProblem } from "./image-folder.js";
import { PathEscapeError, resolveInside } from "./image-store.js";

export const ImageSourceSchema = z.union([
  z.object({ folder: z.string().min(1).describe("a folder of PNG, JPEG and WebP files (read recursively)") }).strict(),
  z.object({ jsonl: z.string().min(1).describe('a JSONL file of {"image": path, ...} records') }).strict(),
  z
    .object({
      parquet: z.string().min(1).describe("a Hugging Face datasets Parquet file with an Image column"),
      column: z.string().min(1).optional().describe("the Image column (default: the one the file declares)"),
    })
    .strict(),
]);
export type ImageSourceSpec = z.output<typeof ImageSourceSchema>;

export class ImageSourceError extends Error {
  override name = "ImageSourceError";
}

/** Why an image of a source was not used (the image folder's codes, and an empty file or cell). */
export type SourceImageProblem = FolderImageProblem | "empty";

export interface SourceImage {
  /** Stable within the source: the relative path (folder), the record's id or `line-N`, `row-N`. */
  id: string;
  image: ChatImage;
  /** Where it came from, for provenance: a path, `FILE:line N`, `FILE:row N`. */
  source: string;
}

export interface SourceDrop {
  itemId: string;
  reason: SourceImageProblem;
  message: string;
}

export interface SourceImages {
  items: SourceImage[];
  dropped: SourceDrop[];
  /** Entries the source lists (before the subset was drawn). */
  listed: number;
}

/** One entry of a source: where it is and how to get its bytes (or why not). */
export interface SourceEntry {
  id: string;
  source: string;
  bytes(): { ok: true; bytes: Uint8Array } | { ok: false; reason: SourceImageProblem; message: string };
}

/** A JSONL line's entry, with the line's fields (for readers that take more than `image`). */
export interface JsonlEntry extends SourceEntry {
  fields: Record<string, unknown>;
}

/** A short name of the source for messages: `image folder DIR`, `JSONL FILE`, `Parquet FILE`. */
export function describeImageSource(spec: ImageSourceSpec): string {
  if ("folder" in spec) return `image folder ${spec.folder}`;
  if ("jsonl" in spec) return `JSONL ${spec.jsonl}`;
  return `Parquet ${spec.parquet}`;
}

const IMAGE_FILE = /\.(png|jpe?g|webp)$/i;

function readFileEntry(path: string): ReturnType<SourceEntry["bytes"]> {
  if (!existsSync(path)) return { ok: false, reason: "missing", message: `${path}: no such file` };
  try {
    const bytes = new Uint8Array(readFileSync(path));
    if (bytes.length === 0) return { ok: false, reason: "empty", message: `${path}: empty file (0 bytes)` };
    return { ok: true, bytes };
  } catch (error) {
    return { ok: false, reason: "unreadable", message: `${path}: ${(error as Error).message}` };
  }
}

/** A path a record names, resolved inside `root` (the record file's folder); escaping it is a drop. */
function insideEntry(root: string, path: string, where: string): ReturnType<SourceEntry["bytes"]> {
  try {
    return readFileEntry(resolveInside(root, path, where));
  } catch (error) {
    if (error instanceof PathEscapeError) return { ok: false, reason: "outside_folder", message: error.message };
    throw error;
  }
}

/** Every image file under `folder` (recursively), ids their paths relative to it, sorted. */
export function folderEntries(folder: string): SourceEntry[] {
  if (!existsSync(folder)) throw new ImageSourceError(`image folder ${folder} does not exist`);
  if (!statSync(folder).isDirectory()) throw new ImageSourceError(`image folder ${folder} is not a folder`);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, d.name);
      // Symbolic links are followed (a folder of links into a dataset is common).
      const isDir = d.isDirectory() || (d.isSymbolicLink() && existsSync(path) && statSync(path).isDirectory());
      if (isDir) walk(path);
      else if (IMAGE_FILE.test(d.name)) files.push(path);
    }
  };
  walk(folder);
  if (files.length === 0)
    throw new ImageSourceError(`image folder ${folder} holds no PNG, JPEG or WebP files (.png, .jpg, .jpeg, .webp)`);
  return files
    .map((path) => ({ path, id: relative(folder, path).split(sep).join("/") }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map(({ path, id }) => ({ id, source: path, bytes: () => readFileEntry(path) }));
}

/** The lines of a JSONL file of {"image": path, "id"?: ...} (paths inside its folder), in file order. */
export function jsonlEntries(file: string): JsonlEntry[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ImageSourceError(`JSONL ${file}: cannot read it: ${(error as Error).message}`);
  }
  const root = dirname(file);
  const entries: JsonlEntry[] = [];
  const ids = new Set<string>();
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new ImageSourceError(`${where}: not valid JSON (${(error as Error).message})`);
    }
    const record = value as { image?: unknown; id?: unknown } | null;
    if (record === null || typeof record !== "object" || Array.isArray(record))
      throw new ImageSourceError(`${where}: expected a JSON object like {"image": "path/to/file.jpg"}`);
    if (typeof record.image !== "string" || record.image === "")
      throw new ImageSourceError(
        `${where}: no "image" field (a path relative to ${root}); got fields ${Object.keys(record).join(", ") || "none"}`,
      );
    const id = typeof record.id === "string" && record.id !== "" ? record.id : `line-${i + 1}`;
    if (ids.has(id)) throw new ImageSourceError(`${where}: id ${JSON.stringify(id)} is already used by another line`);
    ids.add(id);
    const path = record.image;
    entries.push({
      id,
      source: where,
      fields: record as Record<string, unknown>,
      bytes: () => insideEntry(root, path, `${where}: image`),
    });
  });
  if (entries.length === 0) throw new ImageSourceError(`JSONL ${file} holds no records`);
  return entries;
}

/** The Image column: the one named, else the one the `huggingface` metadata declares, else a struct {bytes, path}. */
function imageColumn(
  file: string,
  metadata: import("hyparquet").FileMetaData,
  schema: import("hyparquet").SchemaTree,
  named: string | undefined,
): string {
  const top = schema.children.map((c) => c.element.name);
  const isImageStruct = (name: string) => {
    const child = schema.children.find((c) => c.element.name === name);
    const fields = new Set(child?.children.map((c) => c.element.name) ?? []);
    return fields.has("bytes") && fields.has("path");
  };
  if (named !== undefined) {
    if (!top.includes(named))
      throw new ImageSourceError(`Parquet ${file}: no column '${named}' (columns: ${top.join(", ")})`);
    if (!isImageStruct(named))
      throw new ImageSourceError(`Parquet ${file}: column '${named}' is not an Image column (a struct {bytes, path})`);
    return named;
  }
  const hf = metadata.key_value_metadata?.find((kv) => kv.key === "huggingface")?.value;
  if (hf !== undefined) {
    try {
      const features = (JSON.parse(hf) as { info?: { features?: Record<string, unknown> } }).info?.features ?? {};
      const declared = Object.entries(features).filter(([, f]) => (f as { _type?: unknown } | null)?._type === "Image");
      if (declared.length > 0 && top.includes(declared[0][0])) return declared[0][0];
    } catch {}
  }
  const structs = top.filter(isImageStruct);
  if (structs.length === 1) return structs[0];
  if (structs.length > 1)
    throw new ImageSourceError(
      `Parquet ${file}: several columns look like Image columns (${structs.join(", ")}); name one with column:`,
    );
  throw new ImageSourceError(
    `Parquet ${file}: no Image column (a Hugging Face Image feature, a struct {bytes, path}); columns: ${top.join(", ")}`,
  );
}

async function parquetEntries(file: string, named: string | undefined): Promise<SourceEntry[]> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } = await import("hyparquet");
  if (!existsSync(file)) throw new ImageSourceError(`Parquet ${file} does not exist`);
  let rows: Record<string, unknown>[];
  let column: string;
  try {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    column = imageColumn(file, metadata, parquetSchema(metadata), named);
    // utf8: false keeps the image bytes binary (plain BYTE_ARRAY); `path` is annotated as a string.
    rows = await parquetReadObjects({ file: buffer, metadata, columns: [column], rowFormat: "object", utf8: false });
  } catch (error) {
    if (error instanceof ImageSourceError) throw error;
    throw new ImageSourceError(`Parquet ${file}: cannot read it: ${(error as Error).message}`);
  }
  const root = dirname(file);
  const entries = rows.map((row, i): SourceEntry => {
    const where = `${file}:row ${i}`;
    const cell = row[column] as { bytes?: unknown; path?: unknown } | null | undefined;
    const bytes = cell?.bytes instanceof Uint8Array ? cell.bytes : null;
    const path = typeof cell?.path === "string" && cell.path !== "" ? cell.path : null;
    return {
      id: `row-${i}`,
      source: where,
      bytes: () => {
        if (bytes !== null && bytes.length > 0) return { ok: true, bytes };
        // datasets stores a path without bytes for images it did not embed: a file beside the Parquet.
        if (path !== null) return insideEntry(root, path, `${where}: ${column}.path`);
        return { ok: false, reason: "empty", message: `${where}: ${column} holds neither bytes nor a path` };
      },
    };
  });
  if (entries.length === 0) throw new ImageSourceError(`Parquet ${file} holds no rows`);
  return entries;
}

/** The source's entries in their fixed order; throws ImageSourceError when the source itself is unusable. */
export async function listImageSource(spec: ImageSourceSpec): Promise<SourceEntry[]> {
  if ("folder" in spec) return folderEntries(spec.folder);
  if ("jsonl" in spec) return jsonlEntries(spec.jsonl);
  return parquetEntries(spec.parquet, spec.column);
}

/** Checks that the source can be listed and holds entries (at a run's start); returns how many. */
export async function checkImageSource(spec: ImageSourceSpec): Promise<number> {
  return (await listImageSource(spec)).length;
}

/** Decodes one entry's bytes; what the decoder refuses is a drop with its problem code. */
export async function decodeEntry(
  entry: SourceEntry,
  maxPixels: number,
): Promise<{ ok: true; image: ChatImage } | { ok: false; drop: SourceDrop }> {
  const got = entry.bytes();
  if (!got.ok) return { ok: false, drop: { itemId: entry.id, reason: got.reason, message: got.message } };
  try {
    let bytes = got.bytes;
    if (isWebp(bytes)) bytes = await webpToPng(bytes, { source: entry.source, maxPixels });
    const decoded = await decodeImage(bytes, { source: entry.source, maxPixels });
    return { ok: true, image: { bytes, mimeType: decoded.format === "png" ? "image/png" : "image/jpeg" } };
  } catch (error) {
    if (error instanceof ImageError)
      return { ok: false, drop: { itemId: entry.id, reason: error.problem, message: error.message } };
    throw error;
  }
}

export interface ReadSourceOptions {
  /** How many entries to draw (default: all). */
  n?: number;
  /** Seeds the subset drawn when n is below the number of entries. */
  seed?: number;
  /** Largest width * height accepted (default DEFAULT_MAX_PIXELS, as `serve`). */
  maxPixels?: number;
}

/**
 * A seeded subset of n entries of the source (all of them, in order, without n), each decoded:
 * the usable images and the drops. The subset is drawn before decoding, so a bad file costs its
 * item (counted in `dropped`) and the same seed gives the same items whatever the files hold.
 */
export async function readImageSource(spec: ImageSourceSpec, options: ReadSourceOptions = {}): Promise<SourceImages> {
  const entries = await listImageSource(spec);
  const chosen = options.n === undefined || options.n >= entries.length ? entries : subset(entries, options);
  const items: SourceImage[] = [];
  const dropped: SourceDrop[] = [];
  for (const entry of chosen) {
    const decoded = await decodeEntry(entry, options.maxPixels ?? DEFAULT_MAX_PIXELS);
    if (decoded.ok) items.push({ id: entry.id, image: decoded.image, source: entry.source });
    else dropped.push(decoded.drop);
  }
  return { items, dropped, listed: entries.length };
}

/** n entries drawn with the seed (a partial Fisher-Yates shuffle), then put back in source order. */
export function subset<E>(entries: readonly E[], options: ReadSourceOptions): E[] {
  const order = entries.map((_, i) => i);
  const rand = mulberry32(options.seed ?? 0);
  const n = options.n ?? entries.length;
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rand() * (order.length - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => entries[i]);
}
