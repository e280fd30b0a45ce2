// One entry of a record file as the viewer shows it: a preference pair, an SFT sample, a drop
// (drops.jsonl: an item that gave no record, with its reason code), or an error naming the file,
// the line and the problem. Canonical records are checked with the schemas of
// src/data/records.ts and drops with the shape readDrops reads; an export's rows with the shapes
// of export-rows.ts. Whatever an entry holds, it becomes a row: a bad line is an error row, never
// an exception that would blank the page.
import { z } from "zod";
import { type Provenance, parseTrainingRecord } from "../../data/records.js";
import { formatPath } from "../../util/zod-issues.js";
import { type ExportFormat, exportRow } from "./export-rows.js";

/**
 * How a file's entries are read: the canonical records, drops, or an export's rows; `unknown`
 * when the file's first entries match none (each entry is then an error row saying so).
 */
export type RecordFormat = "records" | "drops" | ExportFormat | "unknown";

export interface ViewTurn {
  role: string;
  content: string;
}

/** An image a row names; `url` serves it, or `problem` says why it cannot be shown. */
export interface ViewImage {
  path: string;
  url: string | null;
  problem?: string;
}

interface RowBase {
  file: string;
  line: number;
}

export interface PairRow extends RowBase {
  type: "preference";
  /** Null for export formats without ids (TRL, LLaMA-Factory). */
  id: string | null;
  images: ViewImage[];
  prompt: ViewTurn[];
  chosen: string;
  rejected: string;
  /** Null for export rows, which carry none. */
  provenance: Provenance | null;
}

export interface SftRow extends RowBase {
  type: "sft";
  id: string | null;
  images: ViewImage[];
  messages: ViewTurn[];
  provenance: Provenance | null;
}

export interface DropRow extends RowBase {
  type: "drop";
  itemId: string;
  reason: string;
}

export interface ErrorRow extends RowBase {
  type: "error";
  problem: string;
}

export type ViewRow = PairRow | SftRow | DropRow | ErrorRow;

/** How a row's image paths become ViewImages (checked and linked for a page; left bare in scans). */
export type ImageLinker = (path: string) => ViewImage;

export const bareImage: ImageLinker = (path) => ({ path, url: null });

/** The shape readDrops (src/methods/common/chunked-records.ts) accepts for a drops.jsonl line. */
const DropSchema = z.object({ itemId: z.string(), reason: z.string() });

export interface EntryText {
  file: string;
  line: number;
  /** The entry's bytes as text ("" for a problem of the file's structure). */
  text: string;
  /** A problem of the file's structure at this entry (entries.ts). */
  problem?: string;
}

/** The row of one entry; never throws. */
export function toRow(entry: EntryText, format: RecordFormat, link: ImageLinker): ViewRow {
  const { file, line } = entry;
  const error = (problem: string): ErrorRow => ({ type: "error", file, line, problem });
  if (entry.text === "") return error(entry.problem ?? "empty entry");
  let value: unknown;
  try {
    value = JSON.parse(entry.text);
  } catch (e) {
    const why = entry.problem === undefined ? "" : ` (${entry.problem})`;
    return error(`not JSON: ${(e as Error).message}${why}`);
  }
  try {
    return valueRow(value, format, { file, line }, link);
  } catch (e) {
    return error(withoutWhere((e as Error).message, `${file} line ${line}`));
  }
}

function valueRow(value: unknown, format: RecordFormat, at: RowBase, link: ImageLinker): ViewRow {
  if (format === "drops") {
    const drop = DropSchema.safeParse(value);
    if (!drop.success) {
      const problems = drop.error.issues.map((i) => `${formatPath(i.path, "(line)")}: ${i.message}`);
      throw new Error(`not a drop, expected {"itemId": string, "reason": string}: ${problems.join("; ")}`);
    }
    return { type: "drop", ...at, itemId: drop.data.itemId, reason: drop.data.reason };
  }
  if (format === "unknown") {
    throw new Error(
      "of no known format: expected a training record (with kind), a drop ({itemId, reason}) or an export row (TRL, LLaVA, LLaMA-Factory)",
    );
  }
  if (format === "records") {
    const record = parseTrainingRecord(value, `${at.file} line ${at.line}`);
    const images = record.images.map(link);
    if (record.kind === "sft") {
      return { type: "sft", ...at, id: record.id, images, messages: record.messages, provenance: record.provenance };
    }
    const { prompt, chosen, rejected, provenance } = record;
    return { type: "preference", ...at, id: record.id, images, prompt, chosen, rejected, provenance };
  }
  const row = exportRow(value, format);
  const images = row.images.map(link);
  if (row.kind === "sft") return { type: "sft", ...at, id: row.id, images, messages: row.messages, provenance: null };
  return {
    type: "preference",
    ...at,
    id: row.id,
    images,
    prompt: row.prompt,
    chosen: row.chosen,
    rejected: row.rejected,
    provenance: null,
  };
}

/** The row shows its file and line itself: the message need not repeat them. */
function withoutWhere(message: string, where: string): string {
  return message.startsWith(`${where}: `) ? message.slice(where.length + 2) : message;
}
