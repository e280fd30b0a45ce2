// POPE: Polling-based Object Probing Evaluation (Li et al., EMNLP 2023, arXiv 2305.10355;
// reference code RUCAIBox/POPE, evaluate.py and build_data.py). Yes/no questions "Is there a
// {object} in the image?", half about present objects, half about absent ones sampled three ways.

import type { ChatImage } from "../images/chat-image.js";
import { mulberry32 } from "../util/prng.js";
import { ratio } from "./text.js";
import { type BenchSpec, defaultSettings, type EvalItem, type EvalRecord, type MetricInfo } from "./types.js";

export type YesNo = "yes" | "no";

/** The words that make an answer "no" (evaluate.py: `'No' in words or 'not' in words or 'no' in words`). */
const POPE_NO_WORDS: ReadonlySet<string> = new Set(["No", "not", "no"]);

/**
 * POPE's answer parser, exactly as the official evaluate.py: keep the text before the first '.',
 * drop commas, split on single spaces (Python's `split(' ')`, not `split()`), and answer "no" when
 * any word is exactly `No`, `no` or `not`; anything else, including an empty answer, is "yes".
 * The text is neither lower-cased nor trimmed, so "NO" and "Not really" are yes, "no!" is yes,
 * "n't" does not count ("There isn't" is yes), and a word glued to a newline ("No\nThere") does
 * not match. These oddities are the benchmark's; they are kept so numbers compare with papers.
 */
export function parsePopeAnswer(text: string): YesNo {
  const dot = text.indexOf(".");
  const firstSentence = dot === -1 ? text : text.slice(0, dot);
  const words = firstSentence.replaceAll(",", "").split(" ");
  return words.some((w) => POPE_NO_WORDS.has(w)) ? "no" : "yes";
}

/** The question for one object (POPE's template, with "an" before a vowel). */
export function popeQuestion(object: string): string {
  const article = /^[aeiou]/i.test(object) ? "an" : "a";
  return `Is there ${article} ${object} in the image?`;
}

export type PopeSplit = "random" | "popular" | "adversarial";
export const POPE_SPLITS: readonly PopeSplit[] = ["random", "popular", "adversarial"];

/** Object statistics of a training set: images containing each object, and each pair. */
export interface ObjectStatistics {
  frequency: Map<string, number>;
  cooccurrence: Map<string, Map<string, number>>;
}

/** Counts per image (an image with two circles counts once for "circle"). */
export function objectStatistics(images: readonly { objects: readonly string[] }[]): ObjectStatistics {
  const frequency = new Map<string, number>();
  const cooccurrence = new Map<string, Map<string, number>>();
  for (const { objects } of images) {
    const present = [...new Set(objects)];
    for (const a of present) {
      frequency.set(a, (frequency.get(a) ?? 0) + 1);
      let row = cooccurrence.get(a);
      if (row === undefined) {
        row = new Map();
        cooccurrence.set(a, row);
      }
      for (const b of present) if (b !== a) row.set(b, (row.get(b) ?? 0) + 1);
    }
  }
  return { frequency, cooccurrence };
}

export interface PopeImage {
  imageId: string;
  image: ChatImage;
  /** Canonical object names present (repeats allowed). */
  objects: readonly string[];
}

export interface PopeItem extends EvalItem {
  object: string;
  label: YesNo;
  question: string;
}

export interface PopeBuildOptions {
  images: readonly PopeImage[];
  /** Every canonical object name that may be asked about. */
  vocabulary: readonly string[];
  /** Statistics of the training split (popular and adversarial sampling). */
  stats: ObjectStatistics;
  split: PopeSplit;
  seed: number;
  /** Present objects asked per image (POPE: 3); as many absent ones follow. */
  perImage?: number;
}

/**
 * Questions per image: m = min(perImage, distinct present objects, absent candidates) present
 * objects (a seeded sample) and m absent ones, interleaved yes, no, yes, no as build_data.py
 * writes them. Absent objects: random = a seeded sample of the vocabulary minus the image's
 * objects; popular = the most frequent training objects not in the image; adversarial = for each
 * sampled present object, the object that co-occurs with it most often in training and is not in
 * the image (ties by frequency, then name; an object with no partner left falls back to that
 * order). Sampling depends only on (seed, image id), so the three splits ask about the same
 * present objects and a subset of images gets the same questions.
 */
export function buildPopeItems(options: PopeBuildOptions): PopeItem[] {
  const { images, vocabulary, stats, split, seed } = options;
  const perImage = options.perImage ?? 3;
  const byFrequency = [...new Set(vocabulary)].sort(
    (a, b) => (stats.frequency.get(b) ?? 0) - (stats.frequency.get(a) ?? 0) || compare(a, b),
  );
  const items: PopeItem[] = [];
  for (const img of images) {
    const present = [...new Set(img.objects)];
    const presentSet = new Set(present);
    const candidates = byFrequency.filter((o) => !presentSet.has(o));
    const m = Math.min(perImage, present.length, candidates.length);
    const asked = shuffled(present, mulberry32(hashSeed(seed, img.imageId, "present"))).slice(0, m);
    let absent: string[];
    if (split === "random") {
      absent = shuffled(candidates, mulberry32(hashSeed(seed, img.imageId, "absent"))).slice(0, m);
    } else if (split === "popular") {
      absent = candidates.slice(0, m);
    } else {
      absent = [];
      for (const p of asked) {
        const row = stats.cooccurrence.get(p);
        const ranked = [...candidates].sort((a, b) => (row?.get(b) ?? 0) - (row?.get(a) ?? 0));
        // Array.prototype.sort is stable, so ties keep the frequency-then-name order.
        const pick = ranked.find((o) => !absent.includes(o));
        if (pick !== undefined) absent.push(pick);
      }
    }
    let q = 0;
    for (let i = 0; i < m; i++) {
      for (const [object, label] of [
        [asked[i], "yes"],
        [absent[i], "no"],
      ] as const) {
        items.push({
          id: `${img.imageId}/${split}/${q++}`,
          imageId: img.imageId,
          image: img.image,
          object,
          label,
          question: popeQuestion(object),
        });
      }
    }
  }
  return items;
}

/** Counts with "yes" as the positive class (a type alias, so that it is a `Counts`). */
export type PopeCounts = {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
};

/** Counts with "yes" as the positive class. */
export function popeCounts(pairs: readonly { predicted: YesNo; label: YesNo }[]): PopeCounts {
  const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (const { predicted, label } of pairs) {
    if (predicted === "yes") label === "yes" ? c.tp++ : c.fp++;
    else label === "no" ? c.tn++ : c.fn++;
  }
  return c;
}

export const POPE_METRICS: Readonly<Record<string, MetricInfo>> = {
  accuracy: { higherIsBetter: true, description: "(TP + TN) / all" },
  precision: { higherIsBetter: true, description: "TP / (TP + FP), yes positive; 0 when nothing is predicted yes" },
  recall: { higherIsBetter: true, description: "TP / (TP + FN)" },
  f1: { higherIsBetter: true, description: "2PR / (P + R); 0 when P + R = 0" },
  yes_ratio: {
    higherIsBetter: null,
    description: "share of PREDICTED yes (not of labels, lmms-eval's bug); 0.5 on balanced questions is unbiased",
  },
};

/**
 * evaluate.py's metrics, from the counts of predictions (summed over items: the bootstrap calls
 * this on each resample). yes_ratio counts predicted yes; lmms-eval's POPE task counts
 * ground-truth yes instead (always 0.5 on POPE), which hides a yes-biased model.
 */
export function popeFromCounts(counts: Readonly<Partial<PopeCounts>>) {
  const { tp = 0, fp = 0, tn = 0, fn = 0 } = counts;
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  return {
    accuracy: ratio(tp + tn, tp + fp + tn + fn),
    precision,
    recall,
    f1: ratio(2 * precision * recall, precision + recall),
    yes_ratio: ratio(tp + fp, tp + fp + tn + fn),
  };
}

/** evaluate.py's metrics from predictions and labels. */
export function popeMetrics(pairs: readonly { predicted: YesNo; label: YesNo }[]) {
  return popeFromCounts(popeCounts(pairs));
}

export interface PopeTruth {
  object: string;
  label: YesNo;
}
export type PopeVerdict = "TP" | "FP" | "TN" | "FN";

export function popeBench(split: PopeSplit): BenchSpec<PopeItem, YesNo, PopeTruth, PopeVerdict> {
  const sampled =
    split === "random"
      ? "at random"
      : split === "popular"
        ? "by training frequency"
        : "by co-occurrence with the image's objects";
  return popeSpec(`pope-${split}`, `POPE ${split}: yes/no object existence, absent objects sampled ${sampled}`);
}

/** POPE over questions read from a file as published (src/eval/file-benches.ts): same prompt, parser and metrics. */
export function popeFileBench(): BenchSpec<PopeItem, YesNo, PopeTruth, PopeVerdict> {
  return popeSpec("pope", "POPE: yes/no object existence, questions and labels from a POPE question file");
}

function popeSpec(name: string, description: string): BenchSpec<PopeItem, YesNo, PopeTruth, PopeVerdict> {
  return {
    name,
    description,
    defaultGeneration: defaultSettings({ promptTemplate: "<image>\n{question}", maxTokens: 32 }),
    metricInfo: POPE_METRICS,
    promptFields: (item) => ({ question: item.question, object: item.object }),
    groundTruth: (item) => ({ object: item.object, label: item.label }),
    parse: (raw) => parsePopeAnswer(raw),
    verdict: (parsed, truth) =>
      parsed === "yes" ? (truth.label === "yes" ? "TP" : "FP") : truth.label === "no" ? "TN" : "FN",
    itemCounts: (record) => popeCounts([{ predicted: record.parsed_answer, label: record.ground_truth.label }]),
    fromCounts: popeFromCounts,
    metrics: (records: readonly EvalRecord<YesNo, PopeTruth>[]) =>
      popeMetrics(records.map((r) => ({ predicted: r.parsed_answer, label: r.ground_truth.label }))),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** FNV-1a over the seed and the strings: one independent stream per (seed, image, purpose). */
function hashSeed(seed: number, ...parts: string[]): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (const ch of parts.join("\u0000")) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A seeded Fisher-Yates copy. */
function shuffled<T>(values: readonly T[], rand: () => number): T[] {
  const out = [...values];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
