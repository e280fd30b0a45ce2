// Short-answer capability questions (COMPACT, Wu et al., arXiv 2504.21850): accuracy overall,
// per capability, and per number of capabilities a question needs (k): `by_k` as a table, and
// `accuracy_k1` ... `accuracy_k4plus` from additive counts, so that the comparison of rounds
// (paired bootstrap) gives each k its interval (COMPACT's claim is about k = 3 and 4). Answers are compared
// after a VQA-style normalization (lower-case, punctuation and articles dropped, number words as
// digits) extended with the world's synonym table.
import type { SynonymTable } from "./text.js";
import { ratio, wordTokens } from "./text.js";
import {
  type BenchSpec,
  type Counts,
  defaultSettings,
  type EvalItem,
  type EvalRecord,
  type MetricInfo,
  sumCounts,
} from "./types.js";

const ARTICLES: ReadonlySet<string> = new Set(["a", "an", "the"]);

const NUMBER_WORDS: Readonly<Record<string, string>> = {
  zero: "0",
  one: "1",
  two: "2",
  three: "3",
  four: "4",
  five: "5",
  six: "6",
  seven: "7",
  eight: "8",
  nine: "9",
  ten: "10",
  eleven: "11",
  twelve: "12",
  thirteen: "13",
  fourteen: "14",
  fifteen: "15",
  sixteen: "16",
  seventeen: "17",
  eighteen: "18",
  nineteen: "19",
  twenty: "20",
};

/**
 * The comparable form of a short answer: lower-cased, hyphens and underscores as spaces,
 * punctuation dropped, articles dropped, number words as digits ("Three." → "3"), then each
 * synonym-table phrase replaced by its canonical name, plurals of vocabulary words singularized
 * ("the Boxes" → "box"), single spaces. Unlike VQA's normalization, "none" is not read as 0.
 */
export function normalizeShortAnswer(answer: string, table?: SynonymTable): string {
  const tokens = wordTokens(answer.replace(/[-_]/g, " "))
    .map((t) => t.replace(/['’]/g, ""))
    .filter((t) => !ARTICLES.has(t))
    .map((t) => NUMBER_WORDS[t] ?? t);
  if (table === undefined) return tokens.join(" ");
  const out: string[] = [];
  let next = 0;
  for (const m of table.findMentionsInTokens(tokens)) {
    out.push(...tokens.slice(next, m.index), m.canonical);
    next = m.index + m.length;
  }
  out.push(...tokens.slice(next));
  return out.join(" ");
}

export interface CapabilityItem extends EvalItem {
  question: string;
  answer: string;
  /** Other accepted answers, if any. */
  alternatives?: readonly string[];
  /** The capabilities the question needs (COMPACT's ten, or any names). */
  capabilities: readonly string[];
  /** How many capabilities the question needs. */
  k: number;
}

export interface CapabilityTruth {
  answer: string;
  /** Normalized accepted answers. */
  accepted: string[];
  capabilities: string[];
  k: number;
}

export interface CapabilityVerdict {
  correct: boolean;
}

export const CAPABILITY_METRICS: Readonly<Record<string, MetricInfo>> = {
  accuracy: { higherIsBetter: true, description: "normalized answer equals a normalized accepted answer" },
  accuracy_k1: { higherIsBetter: true, description: "accuracy on questions needing 1 capability (NaN: none)" },
  accuracy_k2: { higherIsBetter: true, description: "accuracy on questions needing 2 capabilities (NaN: none)" },
  accuracy_k3: { higherIsBetter: true, description: "accuracy on questions needing 3 capabilities (NaN: none)" },
  accuracy_k4plus: {
    higherIsBetter: true,
    description: "accuracy on questions needing 4 or more capabilities (NaN: none)",
  },
  by_capability: {
    higherIsBetter: true,
    description: "{capability: {accuracy, n}}; a question counts toward every capability it needs",
  },
  by_k: { higherIsBetter: true, description: "{k: {accuracy, n}} by number of capabilities needed" },
};

/**
 * The k cells of the counts. Every record gives the same count names (the bootstrap sums them
 * name by name), so the cells are fixed: k = 1, 2, 3, and 4 or more together (SceneWorld's
 * questions need at most 4; COMPACT's MMStar analysis reports k up to 4).
 */
export const K_CELLS = ["k1", "k2", "k3", "k4plus"] as const;
export const kCell = (k: number): (typeof K_CELLS)[number] =>
  k >= 4 ? "k4plus" : k === 3 ? "k3" : k === 2 ? "k2" : "k1";

/** Accuracy from counts summed over questions (every breakdown cell's formula). */
function accuracyFromCounts(counts: Readonly<{ questions?: number; correct?: number }>) {
  return { accuracy: ratio(counts.correct ?? 0, counts.questions ?? 0) };
}

/**
 * The top-level metrics from counts summed over questions (the bootstrap's formula): accuracy,
 * and accuracy per k cell (NaN for a cell without questions, as species' accuracy_known).
 */
export function capabilityFromCounts(counts: Readonly<Counts>): Record<string, number> {
  const out: Record<string, number> = accuracyFromCounts(counts);
  for (const cell of K_CELLS)
    out[`accuracy_${cell}`] = ratio(counts[`correct_${cell}`] ?? 0, counts[`questions_${cell}`] ?? 0, Number.NaN);
  return out;
}

/** One question's counts: overall, and in its k cell (0 in the others). */
export function capabilityItemCounts(correct: boolean, k: number): Counts {
  const counts: Counts = { questions: 1, correct: correct ? 1 : 0 };
  for (const cell of K_CELLS) {
    const mine = cell === kCell(k);
    counts[`questions_${cell}`] = mine ? 1 : 0;
    counts[`correct_${cell}`] = mine && correct ? 1 : 0;
  }
  return counts;
}

export function capabilityMetrics(items: readonly { correct: boolean; capabilities: readonly string[]; k: number }[]) {
  const byCapability = new Map<string, Counts[]>();
  const byK = new Map<number, Counts[]>();
  const add = <K>(map: Map<K, Counts[]>, key: K, counts: Counts) => {
    const cell = map.get(key) ?? [];
    cell.push(counts);
    map.set(key, cell);
  };
  for (const { correct, capabilities, k } of items) {
    const counts = { questions: 1, correct: correct ? 1 : 0 };
    for (const c of new Set(capabilities)) add(byCapability, c, counts);
    add(byK, k, counts);
  }
  const table = <K>(map: Map<K, Counts[]>, order: (a: K, b: K) => number) =>
    Object.fromEntries(
      [...map.entries()]
        .sort(([a], [b]) => order(a, b))
        .map(([key, cell]) => [String(key), { ...accuracyFromCounts(sumCounts(cell)), n: cell.length }]),
    );
  return {
    ...capabilityFromCounts(sumCounts(items.map((i) => capabilityItemCounts(i.correct, i.k)))),
    by_capability: table(byCapability, (a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    by_k: table(byK, (a, b) => a - b),
  };
}

const isCorrect = (r: EvalRecord<string, CapabilityTruth>) => r.ground_truth.accepted.includes(r.parsed_answer);

export function capabilitiesBench(
  table?: SynonymTable,
): BenchSpec<CapabilityItem, string, CapabilityTruth, CapabilityVerdict> {
  return {
    name: "capabilities",
    description: "short-answer questions needing k capabilities: accuracy overall, by capability, by k",
    // COMPACT's first-turn suffix.
    defaultGeneration: defaultSettings({
      promptTemplate: "<image>\n{question}\nAnswer the question using a single word or phrase.",
      maxTokens: 16,
    }),
    metricInfo: CAPABILITY_METRICS,
    promptFields: (item) => ({ question: item.question }),
    groundTruth: (item) => ({
      answer: item.answer,
      accepted: [...new Set([item.answer, ...(item.alternatives ?? [])].map((a) => normalizeShortAnswer(a, table)))],
      capabilities: [...item.capabilities],
      k: item.k,
    }),
    parse: (raw) => normalizeShortAnswer(raw, table),
    verdict: (parsed, truth) => ({ correct: truth.accepted.includes(parsed) }),
    itemCounts: (record) => capabilityItemCounts(isCorrect(record), record.ground_truth.k),
    fromCounts: capabilityFromCounts,
    metrics: (records: readonly EvalRecord<string, CapabilityTruth>[]) =>
      capabilityMetrics(
        records.map((r) => ({
          correct: isCorrect(r),
          capabilities: r.ground_truth.capabilities,
          k: r.ground_truth.k,
        })),
      ),
  };
}
