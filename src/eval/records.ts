// Per-item evaluation records as JSONL: written atomically (temp file + rename) when a benchmark
// ends, appended through a partial file while it runs (so a killed run resumes), and read back
// with validation. Metrics are recomputed from records alone.

import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { z } from "zod";
import { writeFileAtomic } from "../util/atomic-file.js";
import type { AnyBenchSpec, EvalRecord, Metrics } from "./types.js";

const recordSchema = z.object({
  item_id: z.string(),
  image_id: z.string(),
  prompt: z.string(),
  raw_answer: z.string(),
  parsed_answer: z.unknown(),
  ground_truth: z.unknown(),
  verdict: z.unknown(),
  finish_reason: z.enum(["stop", "length"]),
});

function toLine(record: EvalRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/** Writes all records at once: a reader sees the old file or the whole new one, never half. */
export function writeRecords(path: string, records: readonly EvalRecord[]): void {
  writeFileAtomic(path, records.map(toLine).join(""));
}

export { writeFileAtomic };

/**
 * Reads and validates a records file; an error names the file and line. With `dropTornTail`, a
 * last line that does not parse (a kill mid-append) is dropped instead of refused.
 */
export function readRecords(path: string, options: { dropTornTail?: boolean } = {}): EvalRecord[] {
  const lines = readFileSync(path, "utf8").split("\n");
  const records: EvalRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === "");
      if (options.dropTornTail && isLast) break;
      throw new Error(`${path}:${i + 1}: not valid JSON`);
    }
    const parsed = recordSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${path}:${i + 1}: bad record at '${issue.path.join(".")}': ${issue.message}`);
    }
    records.push(parsed.data as EvalRecord);
  }
  return records;
}

/** Appends records one line at a time, each written through before the next request. */
export class RecordsAppender {
  #fd: number;

  constructor(readonly path: string) {
    this.#fd = openSync(path, "a");
  }

  append(record: EvalRecord): void {
    writeSync(this.#fd, toLine(record));
  }

  close(): void {
    closeSync(this.#fd);
  }
}

export function removeIfExists(path: string): void {
  if (existsSync(path)) rmSync(path);
}

/** A benchmark's metrics from its records alone (the same function the runner uses). */
export function recompute(bench: AnyBenchSpec, records: readonly EvalRecord[]): Metrics {
  return bench.metrics(records);
}

/**
 * Records with the parsed answer and verdict derived again from the raw answer and ground truth
 * by the bench's parser: checks that stored parses are what the parser gives (a record edited by
 * hand, or written by an older parser, shows up as a difference).
 */
export function reparse(bench: AnyBenchSpec, records: readonly EvalRecord[]): EvalRecord[] {
  return records.map((r) => {
    const parsed = bench.parse(r.raw_answer, r.ground_truth);
    return { ...r, parsed_answer: parsed, verdict: bench.verdict(parsed, r.ground_truth) };
  });
}
