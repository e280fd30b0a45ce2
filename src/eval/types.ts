// The shapes every benchmark shares: an item to ask about, the per-item record it leaves, the
// metrics computed from those records, and the declarative spec that ties them together.
import type { ChatImage } from "../images/chat-image.js";

/** One question (or description request) about one image. Benchmarks extend it. */
export interface EvalItem {
  /** Unique within the benchmark. */
  id: string;
  imageId: string;
  image: ChatImage;
}

/**
 * What one item left behind (one JSONL line): enough to audit and recompute every metric
 * without the model or the world. Names are snake_case for tools in other languages.
 */
export interface EvalRecord<Parsed = unknown, Truth = unknown, Verdict = unknown> {
  item_id: string;
  image_id: string;
  /** The user turn exactly as sent, `<image>` marker included. */
  prompt: string;
  raw_answer: string;
  parsed_answer: Parsed;
  ground_truth: Truth;
  verdict: Verdict;
  finish_reason: "stop" | "length";
}

/** A metric value: a number, or a named breakdown (by_capability, by_k). */
export type MetricValue = number | { [key: string]: MetricValue };
export type Metrics = Record<string, MetricValue>;

/**
 * Additive per-item counts (POPE's TP/FP/TN/FN as 0 or 1, CHAIR's mentions and hallucinated
 * mentions, ...). A bench's top-level metrics are a function of their sums over items, so that a
 * resample of items recomputes a ratio metric from its counts instead of averaging per-item
 * ratios (src/eval/paired-bootstrap.ts).
 */
export type Counts = Record<string, number>;

/** What a number means; `higherIsBetter: null` for descriptive numbers (yes_ratio, mean_length). */
export interface MetricInfo {
  higherIsBetter: boolean | null;
  description: string;
}

/** The generation settings a benchmark runs with; stored with its results. */
export interface GenerationSettings {
  /** The user turn with `{field}` placeholders filled from the item; one `<image>` marker. */
  promptTemplate: string;
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  topK: number;
  stop: string[];
  /**
   * The seed of every call; backends derive each request's seed from it and the request id (the
   * item id; src/backends/seeds.ts), so samples do not depend on batching or resuming.
   */
  seed: number;
}

/**
 * A benchmark as data plus small pure functions. Functions are declared as methods so that a
 * spec over a specific item type is usable where a spec over `unknown` items is expected (the
 * registry); each spec's own code sees its precise types.
 */
export interface BenchSpec<Item extends EvalItem = EvalItem, Parsed = unknown, Truth = unknown, Verdict = unknown> {
  readonly name: string;
  readonly description: string;
  readonly defaultGeneration: GenerationSettings;
  readonly metricInfo: Readonly<Record<string, MetricInfo>>;
  /** The values of the prompt template's placeholders for this item. */
  promptFields(item: Item): Record<string, string>;
  groundTruth(item: Item): Truth;
  /** The benchmark's answer parser; sees the ground truth only for context (e.g. the vocabulary). */
  parse(rawAnswer: string, truth: Truth): Parsed;
  verdict(parsed: Parsed, truth: Truth): Verdict;
  /** One record's counts; every record of the bench gives the same names. */
  itemCounts(record: EvalRecord<Parsed, Truth, Verdict>): Counts;
  /**
   * The top-level numeric metrics from counts summed over items: each formula once, called by
   * `metrics` on all records and by the bootstrap on every resample.
   */
  fromCounts(totals: Readonly<Counts>): Record<string, number>;
  /** Metrics from records alone: `fromCounts` of their summed counts, plus any breakdowns (by_k). */
  metrics(records: readonly EvalRecord<Parsed, Truth, Verdict>[]): Metrics;
}

/** Any spec, as the registry and the CLI hold them. */
export type AnyBenchSpec = BenchSpec<EvalItem, unknown, unknown, unknown>;

export function defaultSettings(
  overrides: Partial<GenerationSettings> & { promptTemplate: string },
): GenerationSettings {
  return { maxTokens: 32, temperature: 0, topP: 1, topK: 0, stop: [], seed: 0, ...overrides };
}

/** Counts summed name by name (a name missing from an item counts 0 there). */
export function sumCounts(items: Iterable<Readonly<Counts>>): Counts {
  const totals: Counts = {};
  for (const counts of items) {
    for (const [name, value] of Object.entries(counts)) totals[name] = (totals[name] ?? 0) + value;
  }
  return totals;
}
