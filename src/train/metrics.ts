// Training metrics as JSONL: one JSON object per line, appended and written through at once
// so that a killed run keeps every line it logged. Names beyond the fixed fields use the
// slash style shared across trainers (`rewards/chosen`, `logps/rejected`, ...).
import { closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import { writeFileAtomic } from "../util/atomic-file.js";

export interface MetricsRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_s: number;
  /** Fractional: epochs completed plus the share of the current one. */
  epoch: number;
  elapsed_s: number;
  [name: string]: number;
}

export class MetricsWriter {
  #fd: number;

  constructor(readonly path: string) {
    this.#fd = openSync(path, "a");
  }

  write(record: MetricsRecord): void {
    // NaN and Infinity are not JSON; write them as null rather than break the line.
    const line = JSON.stringify(record, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v));
    writeSync(this.#fd, `${line}\n`);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** Reads every record of a metrics file (for tests and reports). */
export function readMetrics(path: string): MetricsRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as MetricsRecord);
}

/**
 * Drops the records logged after `step` (atomically), so that a run resumed from the checkpoint
 * of that step logs each step once. A torn last line (a kill mid-write) is dropped too.
 */
export function truncateMetricsAfter(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => {
      try {
        return (JSON.parse(line) as MetricsRecord).step <= step;
      } catch {
        return false;
      }
    });
  writeFileAtomic(path, kept.map((l) => `${l}\n`).join(""));
}
