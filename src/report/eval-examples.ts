// Example evaluation answers, right and wrong, per bench: the items of the last evaluated round
// from its per-item records (`eval/<round>/<bench>.records.jsonl`), with the base round's answer
// to the same item beside it. Items whose outcome changed from the base come first: they show
// what the rounds between did. Description answers have their object mentions marked against
// the record's own ground truth.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readRecords } from "../eval/records.js";
import type { SynonymTable } from "../eval/text.js";
import type { EvalRecord } from "../eval/types.js";
import { type InlineImage, inlineImageFile } from "./inline-image.js";
import { type MarkedText, markMentions } from "./mentions.js";
import type { SceneTruth } from "./scene-truth.js";

/** Right and wrong answers shown per bench, each. */
export const EVAL_EXAMPLES_PER_OUTCOME = 2;

export type Outcome = "right" | "wrong";

export interface Answer {
  text: MarkedText;
  outcome: Outcome;
}

export interface EvalExample {
  itemId: string;
  image: InlineImage | null;
  prompt: string;
  truth: string;
  answer: Answer;
  /** The base round's answer to the same item (absent when the round shown is the base). */
  base?: Answer;
}

export interface BenchExamples {
  bench: string;
  round: string;
  /** The round whose answers are shown beside (`base`). */
  baseline: string;
  examples: EvalExample[];
}

/**
 * Whether a record's verdict is right, read from the verdict shapes the benches write: POPE's
 * confusion cell (TP, TN right; FP, FN wrong), `{correct}` (capabilities, species), CHAIR's
 * `{hallucinated}` (right when it names no absent object). Null for a shape not known here.
 */
export function outcomeOf(record: EvalRecord): Outcome | null {
  const v = record.verdict as unknown;
  if (v === "TP" || v === "TN") return "right";
  if (v === "FP" || v === "FN") return "wrong";
  if (typeof v === "object" && v !== null) {
    const o = v as { correct?: unknown; hallucinated?: unknown };
    if (typeof o.correct === "boolean") return o.correct ? "right" : "wrong";
    if (Array.isArray(o.hallucinated)) return o.hallucinated.length === 0 ? "right" : "wrong";
  }
  return null;
}

/** The ground truth in a few words (POPE's label and object, an answer, a species, a scene's objects). */
export function truthText(record: EvalRecord): string {
  const t = record.ground_truth as Record<string, unknown> | null;
  if (t === null || typeof t !== "object") return String(t);
  if (typeof t.label === "string") return `${t.label} (${String(t.object)})`;
  if (typeof t.answer === "string") return t.answer;
  if (typeof t.species === "string") return t.species;
  if (Array.isArray(t.objects)) return `objects: ${t.objects.join(", ")}`;
  const json = JSON.stringify(t);
  return json.length > 120 ? `${json.slice(0, 117)}...` : json;
}

/** Each bench of `round` (its records file present), examples against `baseline`'s records. */
export function evalExamples(options: {
  runDir: string;
  round: string;
  baseline: string;
  benches: readonly string[];
  truth: SceneTruth;
  table: SynonymTable;
}): BenchExamples[] {
  const { runDir, round, baseline } = options;
  const recordsOf = (r: string, bench: string) => {
    const path = join(runDir, "eval", r, `${bench}.records.jsonl`);
    return existsSync(path) ? readRecords(path) : [];
  };
  return options.benches.map((bench) => {
    const records = recordsOf(round, bench);
    const baseById = new Map(round === baseline ? [] : recordsOf(baseline, bench).map((r) => [r.item_id, r]));
    const answer = (r: EvalRecord, outcome: Outcome): Answer => ({ text: markAnswer(r, options.table), outcome });
    const scored = records
      .map((r) => ({ r, outcome: outcomeOf(r), base: baseById.get(r.item_id) }))
      .filter((x): x is typeof x & { outcome: Outcome } => x.outcome !== null);
    // Changed from the base first; the sort is stable, so file order within each group.
    const changed = (x: (typeof scored)[number]) => (x.base !== undefined && outcomeOf(x.base) !== x.outcome ? 0 : 1);
    scored.sort((a, b) => changed(a) - changed(b));
    const pick = (outcome: Outcome) => scored.filter((x) => x.outcome === outcome).slice(0, EVAL_EXAMPLES_PER_OUTCOME);
    const picked = [...pick("right"), ...pick("wrong")];
    options.truth.load(picked.map((x) => x.r.image_id));
    const examples = picked.map(({ r, outcome, base }): EvalExample => {
      const baseOutcome = base === undefined ? null : outcomeOf(base);
      const file = options.truth.imageFile(r.image_id);
      return {
        itemId: r.item_id,
        image: file === undefined ? null : inlineImageFile(file),
        prompt: r.prompt.replaceAll("<image>\n", "").replaceAll("<image>", ""),
        truth: truthText(r),
        answer: answer(r, outcome),
        base: base === undefined || baseOutcome === null ? undefined : answer(base, baseOutcome),
      };
    });
    return { bench, round, baseline, examples };
  });
}

/** A description's object mentions marked against its truth; other answers as plain text. */
function markAnswer(record: EvalRecord, table: SynonymTable): MarkedText {
  const objects = (record.ground_truth as { objects?: unknown } | null)?.objects;
  if (Array.isArray(objects) && objects.every((o) => typeof o === "string")) {
    return markMentions(record.raw_answer, table, objects);
  }
  return { pieces: [{ text: record.raw_answer }], mentions: 0, hallucinated: 0 };
}
