// The shape every filter of a stage's records shares (STIC's self-check and oracle filter, and
// the filters of the methods to come): read the records (validated), judge each, write the kept
// ones whole and atomically to a file of their own (the input stays, so every drop can be
// audited), and count the drops by reason code. Nothing kept is an error: training on an empty
// file would only fail later and further from the cause.
import { type RecordKind, type RecordOfKind, readRecords } from "../../data/dataset.js";
import { writeFileAtomic } from "../../util/atomic-file.js";

/** Per record, in order: null keeps it, a reason code drops it. */
export type Verdicts<R extends string> = readonly (R | null)[];

export interface FilterOptions<K extends RecordKind, R extends string, V> {
  /** Names the filter in errors (its recipe field, e.g. `selfCheck`). */
  name: string;
  kind: K;
  recordsPath: string;
  /** The dataset root the records' image paths resolve in. */
  root: string;
  out: string;
  /** Every reason code `judge` gives; each is counted, from 0. */
  reasons: readonly R[];
  judge(records: RecordOfKind<K>[]): V;
  /** Ends the error when nothing is kept: `none of the 12 pairs of <file> <noneKept>`. */
  noneKept: string;
}

export interface FilterResult<R extends string> {
  /** Records read. */
  records: number;
  kept: number;
  dropped: Record<R, number>;
}

/** Synchronous when `judge` is, else a promise. */
export function writeFiltered<K extends RecordKind, R extends string>(
  options: FilterOptions<K, R, Verdicts<R>>,
): FilterResult<R>;
export function writeFiltered<K extends RecordKind, R extends string>(
  options: FilterOptions<K, R, Promise<Verdicts<R>>>,
): Promise<FilterResult<R>>;
export function writeFiltered<K extends RecordKind, R extends string>(
  options: FilterOptions<K, R, Verdicts<R> | Promise<Verdicts<R>>>,
): FilterResult<R> | Promise<FilterResult<R>> {
  const records = readRecords(options.recordsPath, options.kind, { root: options.root });
  const verdicts = options.judge(records);
  return verdicts instanceof Promise
    ? verdicts.then((v) => keep(options, records, v))
    : keep(options, records, verdicts);
}

function keep<K extends RecordKind, R extends string>(
  options: FilterOptions<K, R, unknown>,
  records: RecordOfKind<K>[],
  verdicts: Verdicts<R>,
): FilterResult<R> {
  if (verdicts.length !== records.length)
    throw new Error(`${options.name}: ${verdicts.length} verdicts for the ${records.length} records`);
  const dropped = Object.fromEntries(options.reasons.map((r) => [r, 0])) as Record<R, number>;
  const kept = records.filter((_, i) => {
    const reason = verdicts[i];
    if (reason !== null) dropped[reason]++;
    return reason === null;
  });
  if (kept.length === 0) {
    const noun = options.kind === "preference" ? "pairs" : "records";
    throw new Error(
      `${options.name}: none of the ${records.length} ${noun} of ${options.recordsPath} ${options.noneKept}`,
    );
  }
  writeFileAtomic(options.out, kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return { records: records.length, kept: kept.length, dropped };
}
