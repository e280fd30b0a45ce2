// CHAIR: Caption Hallucination Assessment with Image Relevance (Rohrbach et al., EMNLP 2018,
// arXiv 1809.02156; reference code LisaAnne/Hallucination, utils/chair.py). Object words in a
// description are matched through a synonym table; a mention of an object the image lacks is a
// hallucination.
import type { PhraseMention } from "./text.js";
import { ratio, unique } from "./text.js";
import {
  type BenchSpec,
  defaultSettings,
  type EvalItem,
  type EvalRecord,
  type MetricInfo,
  sumCounts,
} from "./types.js";

export interface ChairItem extends EvalItem {
  /** Object names present in the image (canonical or any synonym; repeats allowed). */
  objects: readonly string[];
}

export interface ChairParsed {
  /** Canonical object names mentioned, in order, repeats kept (CHAIR counts every mention). */
  mentions: string[];
  /** Words in the description (whitespace-separated). */
  words: number;
}

export interface ChairTruth {
  /** Distinct canonical objects in the image. */
  objects: string[];
}

export interface ChairVerdict {
  /** Mentions of objects the image lacks, repeats kept. */
  hallucinated: string[];
  /** Ground-truth objects mentioned at least once. */
  covered: string[];
}

/**
 * What CHAIR needs from an object vocabulary: the mentions in a text, and the canonical name of
 * a ground-truth object. A SynonymTable is one (the world's objects); the COCO matcher, which
 * adds chair.py's special rules, is another (src/eval/coco-objects.ts).
 */
export interface ObjectMatcher {
  findMentions(text: string): PhraseMention[];
  /** The canonical name of a name or synonym; null when it is not an object of the vocabulary. */
  canonical(phrase: string): string | null;
}

/**
 * Object mentions through the vocabulary: lower-cased word tokens, plurals singularized
 * against the vocabulary, multi-word synonyms matched first. As in chair.py, a negated mention
 * ("there is no star") still counts as a mention.
 */
export function extractObjectMentions(description: string, table: ObjectMatcher): string[] {
  return table.findMentions(description).map((m) => m.canonical);
}

/** Length in words, split on whitespace. */
export function descriptionLength(description: string): number {
  return description.split(/\s+/).filter((w) => w !== "").length;
}

export function chairVerdict(mentions: readonly string[], truth: ChairTruth): ChairVerdict {
  const present = new Set(truth.objects);
  return {
    hallucinated: mentions.filter((m) => !present.has(m)),
    covered: truth.objects.filter((o) => mentions.includes(o)),
  };
}

/**
 * How many object mentions of each description the length-controlled CHAIR_i reads
 * (`chair_i_first5`): a model that names fewer objects has fewer chances to hallucinate, so
 * CHAIR_i over everything a description names rewards short descriptions; over the first few
 * mentions every description is read to the same depth (a shorter one contributes what it has).
 * The metric's name carries the number: change both together.
 */
export const FIRST_MENTIONS = 5;

export const CHAIR_METRICS: Readonly<Record<string, MetricInfo>> = {
  chair_i: { higherIsBetter: false, description: "hallucinated object mentions / all object mentions (0 when none)" },
  chair_s: { higherIsBetter: false, description: "descriptions with a hallucinated object / all descriptions" },
  coverage: { higherIsBetter: true, description: "ground-truth objects mentioned / ground-truth objects (micro)" },
  mean_length: { higherIsBetter: null, description: "mean words per description" },
  truncated_share: {
    higherIsBetter: null,
    description:
      "descriptions that stopped on the token limit / all descriptions (the other figures then measure length too)",
  },
  chair_i_first5: {
    higherIsBetter: false,
    description: `CHAIR_i over the first ${FIRST_MENTIONS} object mentions of each description (length-controlled)`,
  },
  halluc_per_100w: {
    higherIsBetter: false,
    description: "hallucinated object mentions per 100 words, over all descriptions (length-controlled)",
  },
};

/** What one description adds to CHAIR's counts. */
export interface ChairItemInput {
  parsed: ChairParsed;
  truth: ChairTruth;
  /** It stopped on the token limit (finish reason "length"); unknown counts as not. */
  truncated?: boolean;
}

/** One description's counts: CHAIR's metrics are ratios of their sums (chairFromCounts). */
export function chairItemCounts({ parsed, truth, truncated }: ChairItemInput) {
  const v = chairVerdict(parsed.mentions, truth);
  const first = parsed.mentions.slice(0, FIRST_MENTIONS);
  return {
    descriptions: 1,
    mentions: parsed.mentions.length,
    hallucinated: v.hallucinated.length,
    with_hallucination: v.hallucinated.length > 0 ? 1 : 0,
    covered: v.covered.length,
    truth_objects: truth.objects.length,
    words: parsed.words,
    truncated: truncated === true ? 1 : 0,
    first_mentions: first.length,
    first_hallucinated: chairVerdict(first, truth).hallucinated.length,
  };
}
export type ChairCounts = ReturnType<typeof chairItemCounts>;

/** CHAIR's metrics from counts summed over descriptions (micro averages, as chair.py). */
export function chairFromCounts(counts: Readonly<Partial<ChairCounts>>) {
  const c = (name: keyof ChairCounts) => counts[name] ?? 0;
  return {
    chair_i: ratio(c("hallucinated"), c("mentions")),
    chair_s: ratio(c("with_hallucination"), c("descriptions")),
    coverage: ratio(c("covered"), c("truth_objects")),
    mean_length: ratio(c("words"), c("descriptions")),
    truncated_share: ratio(c("truncated"), c("descriptions")),
    chair_i_first5: ratio(c("first_hallucinated"), c("first_mentions")),
    halluc_per_100w: ratio(100 * c("hallucinated"), c("words")),
  };
}

export function chairMetrics(items: readonly ChairItemInput[]) {
  return chairFromCounts(sumCounts(items.map(chairItemCounts)) as ChairCounts);
}

const recordInput = (r: EvalRecord<ChairParsed, ChairTruth>): ChairItemInput => ({
  parsed: r.parsed_answer,
  truth: r.ground_truth,
  truncated: r.finish_reason === "length",
});

/** The world's describe prompt (STIC's and the instruction split's wording). */
export const CHAIR_PROMPT = "Describe this image in detail.";

export interface ChairBenchOptions {
  /** The bench's name, which names its record files (default "chair"). */
  name?: string;
  description?: string;
  /** The describe request (default CHAIR_PROMPT); the image goes before it. */
  prompt?: string;
}

export function chairBench(
  table: ObjectMatcher,
  options: ChairBenchOptions = {},
): BenchSpec<ChairItem, ChairParsed, ChairTruth, ChairVerdict> {
  const prompt = options.prompt ?? CHAIR_PROMPT;
  return {
    name: options.name ?? "chair",
    description: options.description ?? "CHAIR: detailed descriptions scored for hallucinated and covered objects",
    // 256 tokens: long enough that under 2% of descriptions stop on the limit (0% measured on
    // validation with a candidate base; truncated_share reports it for every run).
    defaultGeneration: defaultSettings({ promptTemplate: `<image>\n${prompt}`, maxTokens: 256 }),
    metricInfo: CHAIR_METRICS,
    promptFields: () => ({}),
    groundTruth: (item) => ({ objects: unique(item.objects.map((o) => table.canonical(o) ?? o.toLowerCase())) }),
    parse: (raw) => ({ mentions: extractObjectMentions(raw, table), words: descriptionLength(raw) }),
    verdict: (parsed, truth) => chairVerdict(parsed.mentions, truth),
    itemCounts: (record) => chairItemCounts(recordInput(record)),
    fromCounts: chairFromCounts,
    metrics: (records: readonly EvalRecord<ChairParsed, ChairTruth>[]) => chairMetrics(records.map(recordInput)),
  };
}
