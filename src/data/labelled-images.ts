// The user's labelled images (what STS trains on: a fine-grained dataset's labelled training
// split, such as CUB-200's), in one of two layouts:
//   { folder: DIR }   torchvision's ImageFolder: one sub-folder per class, its name (verbatim) the
//                     label, the class's PNG, JPEG and WebP files under it (recursively);
//   { jsonl: FILE }   one {"image": path, "label": class, "id"?: ...} a line, paths inside FILE's folder.
// The listing reuses the image sources' (image-source.ts), and so do the checks: a source whose
// shape is wrong (a missing or empty folder, an image outside any class folder, a line without
// `image` or `label`) is an ImageSourceError naming the file (and line) before any image is read;
// each drawn image then goes through the same decode checks, and one that cannot be used is a drop
// with its reason code, never a crash. Whether every label has its visual features is the
// caller's check (STS's concepts file), over every label the source lists.
import { z } from "zod";
import { DEFAULT_MAX_PIXELS } from "../images/codec.js";
import {
  decodeEntry,
  folderEntries,
  ImageSourceError,
  jsonlEntries,
  type ReadSourceOptions,
  type SourceDrop,
  type SourceEntry,
  type SourceImage,
  subset,
} from "./image-source.js";

export const LabelledSourceSchema = z.union([
  z
    .object({
      folder: z.string().min(1).describe("ImageFolder layout: one sub-folder per class, its name the label"),
    })
    .strict(),
  z.object({ jsonl: z.string().min(1).describe('a JSONL file of {"image": path, "label": class} lines') }).strict(),
]);
export type LabelledSourceSpec = z.output<typeof LabelledSourceSchema>;

export interface LabelledEntry extends SourceEntry {
  label: string;
}

export interface LabelledImage extends SourceImage {
  label: string;
}

/** A short name of the source for messages: `labelled image folder DIR`, `labelled JSONL FILE`. */
export function describeLabelledSource(spec: LabelledSourceSpec): string {
  return "folder" in spec ? `labelled image folder ${spec.folder}` : `labelled JSONL ${spec.jsonl}`;
}

/** The source's entries with their labels, in a fixed order (paths sorted, lines in file order). */
export function listLabelledSource(spec: LabelledSourceSpec): LabelledEntry[] {
  if ("folder" in spec) {
    return folderEntries(spec.folder).map((entry) => {
      const slash = entry.id.indexOf("/");
      if (slash < 0)
        throw new ImageSourceError(
          `labelled image folder ${spec.folder}: ${entry.id} is not in a class folder (the layout is ${spec.folder}/<label>/<image>)`,
        );
      return { ...entry, label: entry.id.slice(0, slash) };
    });
  }
  return jsonlEntries(spec.jsonl).map(({ fields, ...entry }) => {
    const label = fields.label;
    if (typeof label !== "string" || label.trim() === "")
      throw new ImageSourceError(
        `${entry.source}: ${label === undefined ? 'no "label" field' : '"label" must be a non-empty string'} (the image's class, as the concepts file names it)`,
      );
    return { ...entry, label: label.trim() };
  });
}

/** The distinct labels of `entries`, sorted. */
export const labelsOf = (entries: readonly LabelledEntry[]) => [...new Set(entries.map((e) => e.label))].sort();

/** The entries decoded: the usable images with their labels, and the drops (reason-coded). */
export async function decodeLabelled(
  entries: readonly LabelledEntry[],
  maxPixels = DEFAULT_MAX_PIXELS,
): Promise<{ items: LabelledImage[]; dropped: SourceDrop[] }> {
  const out = { items: [] as LabelledImage[], dropped: [] as SourceDrop[] };
  for (const entry of entries) {
    const decoded = await decodeEntry(entry, maxPixels);
    if (decoded.ok) out.items.push({ id: entry.id, image: decoded.image, source: entry.source, label: entry.label });
    else out.dropped.push(decoded.drop);
  }
  return out;
}

/** A seeded subset of n entries (all of them without n), in source order. */
export function drawLabelled(entries: readonly LabelledEntry[], options: ReadSourceOptions): LabelledEntry[] {
  return options.n === undefined || options.n >= entries.length ? [...entries] : subset(entries, options);
}
