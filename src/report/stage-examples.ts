// What a stage trained on, shown by example: its record files (the stage's own output and the
// files its filters kept), what it dropped and why, and a few records with their image, each
// object mention marked present or hallucinated against the scene's truth. For preference pairs
// the examples are drawn across outcomes (kept with the chosen side hallucinating less, kept
// with it hallucinating no less, dropped by a filter), since which pairs a method trains on is
// what the reader wants to judge.
import { basename, join } from "node:path";
import { listRecordFiles, readRecords } from "../data/dataset.js";
import { readDrops } from "../data/drops.js";
import { ImageStore } from "../data/image-store.js";
import type { PreferenceRecord, SftRecord, TrainingRecord } from "../data/records.js";
import type { SynonymTable } from "../eval/text.js";
import { type InlineImage, inlineImageBytes } from "./inline-image.js";
import { type MarkedText, markMentions } from "./mentions.js";
import type { StageFolder } from "./run-folder.js";
import type { SceneTruth } from "./scene-truth.js";

/** Examples shown per stage, and per outcome of a preference stage. */
export const EXAMPLES_PER_STAGE = 6;
const PER_OUTCOME = 2;
/** Records of the main file the examples are drawn from (in file order). */
const CANDIDATES = 400;

export interface RecordFile {
  name: string;
  records: number;
  kind: "preference" | "sft" | "mixed";
}

/** A record file whose ids are all in the stage's main file: a filter's kept records. */
export interface FilterFile {
  name: string;
  kept: number;
}

interface ExampleBase {
  id: string;
  image: InlineImage | null;
  /** provenance.reasons: how the record was made (e.g. `rejected:corrupted:downscale`). */
  reasons: string[];
  /** provenance.scores: what the method computed for it. */
  scores: Record<string, number>;
  /** Per filter file: whether this record is in it. */
  filters: { name: string; kept: boolean }[];
  /** Whether the scene's objects were known (mentions marked present or hallucinated). */
  truth: boolean;
}

export interface PairExample extends ExampleBase {
  kind: "preference";
  prompt: string;
  chosen: MarkedText;
  rejected: MarkedText;
}

export interface SftExample extends ExampleBase {
  kind: "sft";
  turns: { role: string; text: MarkedText }[];
}

export interface StageExamples {
  stage: string;
  /** The file every filter file is a subset of (the stage's records before filtering). */
  main: RecordFile | null;
  filters: FilterFile[];
  /** Counts by reason code: `drops.jsonl` (items that made no record) and each step's drops. */
  drops: { source: string; counts: Record<string, number> }[];
  examples: (PairExample | SftExample)[];
  /** Files under data/ that hold no training records (named, not shown). */
  skipped: string[];
}

/** The examples of one stage; null when it wrote no dataset. */
export function stageExamples(stage: StageFolder, truth: SceneTruth, table: SynonymTable): StageExamples | null {
  if (stage.dataDir === null) return null;
  const dataDir = stage.dataDir;
  const files: { file: RecordFile; records: TrainingRecord[] }[] = [];
  const skipped: string[] = [];
  for (const path of listRecordFiles(dataDir)) {
    if (basename(path) === "drops.jsonl") continue;
    try {
      const records = readRecords(path, "any", { root: dataDir, checkImages: false });
      files.push({ file: { name: basename(path), records: records.length, kind: kindOf(records) }, records });
    } catch {
      skipped.push(basename(path));
    }
  }
  const main = [...files].sort((a, b) => b.records.length - a.records.length)[0];
  const mainIds = new Set(main?.records.map((r) => r.id) ?? []);
  const filterFiles = files.filter((f) => f !== main && f.records.every((r) => mainIds.has(r.id)));
  const keptBy = filterFiles.map((f) => ({ name: f.file.name, ids: new Set(f.records.map((r) => r.id)) }));
  const store = new ImageStore(dataDir);
  const make = (record: TrainingRecord) =>
    toExample(record, {
      store,
      truth,
      table,
      filters: keptBy.map((f) => ({ name: f.name, kept: f.ids.has(record.id) })),
    });
  // Examples are drawn from the first records only: enough to find each outcome, and the scene
  // truth of a few hundred records is read instead of the pool's whole truth file.
  const candidates = main?.records.slice(0, CANDIDATES) ?? [];
  truth.load(candidates.map((r) => r.provenance.source ?? r.id));
  const chosen = pickRecords(candidates, keptBy, truth, table);
  return {
    stage: stage.name,
    main: main?.file ?? null,
    filters: filterFiles.map((f) => ({ name: f.file.name, kept: f.records.length })),
    drops: dropCounts(dataDir, stage),
    examples: chosen.map(make),
    skipped,
  };
}

function kindOf(records: readonly TrainingRecord[]): RecordFile["kind"] {
  const kinds = new Set(records.map((r) => r.kind));
  return kinds.size === 1 ? [...kinds][0] : "mixed";
}

/**
 * Preference pairs spread over outcomes, PER_OUTCOME of each in file order; other records, the
 * first EXAMPLES_PER_STAGE. Without a filter or scene truth, the outcomes that cannot be told
 * apart merge.
 */
function pickRecords(
  records: readonly TrainingRecord[],
  keptBy: readonly { ids: Set<string> }[],
  truth: SceneTruth,
  table: SynonymTable,
): TrainingRecord[] {
  if (!records.every((r) => r.kind === "preference")) return records.slice(0, EXAMPLES_PER_STAGE);
  const outcome = (r: PreferenceRecord): string => {
    if (!keptBy.every((f) => f.ids.has(r.id))) return "dropped";
    const objects = truth.objects(r.provenance.source ?? r.id);
    if (objects === undefined) return "kept";
    const less =
      markMentions(r.chosen, table, objects).hallucinated < markMentions(r.rejected, table, objects).hallucinated;
    return less ? "kept, chosen hallucinates less" : "kept, chosen hallucinates no less";
  };
  const byOutcome = new Map<string, TrainingRecord[]>();
  for (const r of records as PreferenceRecord[]) {
    const key = outcome(r);
    const list = byOutcome.get(key) ?? [];
    if (list.length < PER_OUTCOME) byOutcome.set(key, [...list, r]);
  }
  const picked = [...byOutcome.values()].flat();
  // Fewer outcomes than slots (no filter, no truth): fill with the next records in file order.
  for (const r of records) {
    if (picked.length >= EXAMPLES_PER_STAGE) break;
    if (!picked.includes(r)) picked.push(r);
  }
  return picked.slice(0, EXAMPLES_PER_STAGE);
}

interface ExampleContext {
  store: ImageStore;
  truth: SceneTruth;
  table: SynonymTable;
  filters: { name: string; kept: boolean }[];
}

function toExample(record: TrainingRecord, ctx: ExampleContext): PairExample | SftExample {
  const objects = ctx.truth.objects(record.provenance.source ?? record.id);
  const mark = (text: string) => markMentions(text, ctx.table, objects);
  const base: ExampleBase = {
    id: record.id,
    image: record.images.length === 0 ? null : readImage(ctx.store, record.images[0], record.id),
    reasons: record.provenance.reasons ?? [],
    scores: record.provenance.scores ?? {},
    filters: ctx.filters,
    truth: objects !== undefined,
  };
  if (record.kind === "sft") {
    const turns = (record as SftRecord).messages.map((m) => ({ role: m.role, text: mark(stripImage(m.content)) }));
    return { ...base, kind: "sft", turns };
  }
  const pair = record as PreferenceRecord;
  return {
    ...base,
    kind: "preference",
    prompt: pair.prompt.map((t) => stripImage(t.content)).join("\n"),
    chosen: mark(pair.chosen),
    rejected: mark(pair.rejected),
  };
}

/** The `<image>` marker is where the picture goes; the page shows the picture beside the text. */
const stripImage = (text: string) => text.replaceAll("<image>\n", "").replaceAll("<image>", "");

function readImage(store: ImageStore, path: string, id: string): InlineImage {
  try {
    return inlineImageBytes(store.read(path, `record ${id}`), path);
  } catch (error) {
    return { missing: (error as Error).message };
  }
}

/**
 * drops.jsonl by reason, then every step result's `drops` or `dropped` counts (filters,
 * generation). A generation step returns the counts of the drops it wrote to drops.jsonl, so a
 * step's reason whose count equals drops.jsonl's is that same set and is not listed twice.
 */
export function dropCounts(dataDir: string, stage: StageFolder): StageExamples["drops"] {
  const out: StageExamples["drops"] = [];
  const dropped = readDrops(join(dataDir, "drops.jsonl"));
  const inFile: Record<string, number> = {};
  for (const d of dropped) inFile[d.reason] = (inFile[d.reason] ?? 0) + 1;
  if (dropped.length > 0) out.push({ source: "drops.jsonl", counts: inFile });
  for (const step of stage.steps) {
    const result = step.result as { drops?: unknown; dropped?: unknown } | null;
    const counts = result?.dropped ?? result?.drops;
    if (!isCounts(counts)) continue;
    const own = Object.fromEntries(Object.entries(counts).filter(([reason, n]) => inFile[reason] !== n));
    if (Object.keys(own).length > 0) out.push({ source: `step ${step.step}`, counts: own });
  }
  return out;
}

const isCounts = (v: unknown): v is Record<string, number> =>
  typeof v === "object" && v !== null && Object.values(v).every((n) => typeof n === "number");
