// Pages of a data folder's record files, for the viewer's API. Each file is indexed once
// (entries.ts: one streaming pass that keeps only where each entry lies) and indexed again when
// its size or modification time changes (a stage still appending). A page reads just its own
// entries back from the file.
//
// Filters scan: a filter's first page reads and checks every entry of the file in order (large
// sequential reads), and keeps the numbers of the matching entries, so that its later pages read
// only their own entries. That costs one pass per filter asked for instead of keeping every
// record's provenance in memory; a few recent filters per file are kept. The facets (the reason
// codes, methods and scores a file holds, for the page's filter controls) are one such pass too.
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { PathEscapeError, resolveInside } from "../../data/image-store.js";
import { listViewableFiles, type RecordFileInfo } from "./data-folder.js";
import { type EntryIndex, indexEntries, readEntries } from "./entries.js";
import { detectFormat } from "./export-rows.js";
import {
  addToFacets,
  emptyFacets,
  type Facets,
  filterKey,
  isEmptyFilter,
  type RowFilter,
  rowMatches,
} from "./filters.js";
import { bareImage, type ImageLinker, type RecordFormat, toRow, type ViewRow } from "./rows.js";

/** Rows a page may ask for at most. */
export const MAX_PAGE_ROWS = 500;
/** Filters whose matches are kept per file. */
const KEPT_FILTERS = 8;
/** Entries read per step of a scan. */
const SCAN_STEP = 2000;
/** Entries parsed to tell a file's format. */
const FORMAT_SAMPLE = 20;

/** A file name the folder does not list as a record file. */
export class UnknownFileError extends Error {
  override name = "UnknownFileError";
}

export interface RecordPage {
  file: string;
  format: RecordFormat;
  /** Entries in the file (rows of every type, errors included). */
  entries: number;
  /** Rows that match the filter (= entries when there is none). */
  total: number;
  offset: number;
  limit: number;
  filter: RowFilter;
  rows: ViewRow[];
}

export interface FileFacets extends Facets {
  file: string;
  format: RecordFormat;
}

interface IndexedFile {
  info: RecordFileInfo;
  path: string;
  index: EntryIndex;
  format: RecordFormat;
  facets?: Promise<Facets>;
  matches: Map<string, Promise<number[]>>;
}

export class RecordsIndex {
  private readonly indexed = new Map<string, Promise<IndexedFile>>();

  constructor(readonly root: string) {}

  /** The folder's record files now (a stage may have added one since the viewer started). */
  files(): RecordFileInfo[] {
    return listViewableFiles(this.root);
  }

  async page(name: string, filter: RowFilter, offset: number, limit: number): Promise<RecordPage> {
    const file = await this.file(name);
    const size = Math.min(limit, MAX_PAGE_ROWS);
    let which: number[];
    let total: number;
    if (isEmptyFilter(filter)) {
      total = file.index.starts.length;
      which = [];
      for (let e = offset; e < Math.min(total, offset + size); e++) which.push(e);
    } else {
      const matches = await this.matches(file, filter);
      total = matches.length;
      which = matches.slice(offset, offset + size);
    }
    const rows = await this.rows(file, which, this.imageLinker());
    return {
      file: name,
      format: file.format,
      entries: file.index.starts.length,
      total,
      offset,
      limit: size,
      filter,
      rows,
    };
  }

  async facets(name: string): Promise<FileFacets> {
    const file = await this.file(name);
    if (file.facets === undefined) {
      const scanned = this.scan(file, emptyFacets(), (facets, row) => addToFacets(facets, row));
      file.facets = scanned;
      // A scan that failed (the file removed meanwhile) is not kept: the next request tries again.
      scanned.catch(() => {
        if (file.facets === scanned) file.facets = undefined;
      });
    }
    return { file: name, format: file.format, ...(await file.facets) };
  }

  /** The file's current index: made on first use, made again when the file changed. */
  private async file(name: string): Promise<IndexedFile> {
    const info = this.files().find((f) => f.name === name);
    if (info === undefined) throw new UnknownFileError(`${name}: not a record file of ${this.root}`);
    const path = join(this.root, name);
    const now = await stat(path);
    const cached = this.indexed.get(name);
    if (cached !== undefined) {
      const file = await cached;
      if (file.index.size === now.size && file.index.mtimeMs === now.mtimeMs && file.info.layout === info.layout) {
        return file;
      }
      if (this.indexed.get(name) !== cached) return this.file(name); // another request re-indexed it meanwhile
    }
    const made = this.make(info, path, { size: now.size, mtimeMs: now.mtimeMs });
    this.indexed.set(name, made);
    made.catch(() => {
      if (this.indexed.get(name) === made) this.indexed.delete(name);
    });
    return made;
  }

  private async make(
    info: RecordFileInfo,
    path: string,
    stat: { size: number; mtimeMs: number },
  ): Promise<IndexedFile> {
    const index = await indexEntries(path, info.layout, stat);
    const sample: number[] = [];
    for (let e = 0; e < Math.min(FORMAT_SAMPLE, index.starts.length); e++) sample.push(e);
    const values = (await readEntries(path, index, sample)).flatMap((text) => {
      try {
        return [JSON.parse(text) as unknown];
      } catch {
        return [];
      }
    });
    // A JSONL file that tells nothing is read as records: its errors then name the record's fields.
    const format = detectFormat(info.name, info.layout, values) ?? (info.layout === "jsonl" ? "records" : "unknown");
    return { info, path, index, format, matches: new Map() };
  }

  private async matches(file: IndexedFile, filter: RowFilter): Promise<number[]> {
    const key = filterKey(filter);
    let found = file.matches.get(key);
    if (found === undefined) {
      const scanned = this.scan(file, [] as number[], (matched, row, entry) => {
        if (rowMatches(row, filter)) matched.push(entry);
      });
      scanned.catch(() => {
        if (file.matches.get(key) === scanned) file.matches.delete(key);
      });
      found = scanned;
      if (file.matches.size >= KEPT_FILTERS) file.matches.delete(file.matches.keys().next().value as string);
    } else {
      file.matches.delete(key); // moved to the end: most recently used
    }
    file.matches.set(key, found);
    return found;
  }

  /** Reads every entry in order, in steps, folding its row into `into`. */
  private async scan<T>(file: IndexedFile, into: T, fold: (into: T, row: ViewRow, entry: number) => void): Promise<T> {
    const count = file.index.starts.length;
    for (let from = 0; from < count; from += SCAN_STEP) {
      const which: number[] = [];
      for (let e = from; e < Math.min(count, from + SCAN_STEP); e++) which.push(e);
      const rows = await this.rows(file, which, bareImage);
      rows.forEach((row, i) => {
        fold(into, row, which[i]);
      });
    }
    return into;
  }

  private async rows(file: IndexedFile, which: number[], link: ImageLinker): Promise<ViewRow[]> {
    const texts = await readEntries(file.path, file.index, which);
    return texts.map((text, i) =>
      toRow(
        { file: file.info.name, line: file.index.lines[which[i]], text, problem: file.index.problems.get(which[i]) },
        file.format,
        link,
      ),
    );
  }

  /** Links each image to the server's /files/ route when it lies inside the folder and exists. */
  private imageLinker(): ImageLinker {
    return (path) => {
      try {
        const file = resolveInside(this.root, path, "image");
        if (!existsSync(file)) return { path, url: null, problem: `${path} does not exist in the folder` };
      } catch (error) {
        if (error instanceof PathEscapeError) return { path, url: null, problem: error.message };
        throw error;
      }
      return { path, url: fileUrl(path) };
    };
  }
}

/** The URL the server serves a file of the folder at. */
export function fileUrl(path: string): string {
  return `/files/${path.split("/").map(encodeURIComponent).join("/")}`;
}
