// BPO's rules for which (positive, negative) pairs are kept (METHODS.md section 2, point 3):
//
//   - the paper drops items whose completions exceed 350 words (words = whitespace-separated
//     tokens, as `len(text.split())` counts them): a positive over the limit drops the positive
//     (`positive-too-long`, no negative is asked for), a negative over it drops its pair
//     (`negative-too-long`);
//   - a negative that teaches nothing is dropped (the rule; the paper pairs by score
//     only): `empty-negative`; `negative-truncated` (it stopped on the token limit, so it would
//     differ from the positive by being cut off); `identical` (equal to the positive once
//     normalized: lower case, punctuation and spacing ignored); `near-duplicate` (see below);
//     and, when one positive's negatives repeat each other, `duplicate-negative` for the later
//     ones (pairs.ts chosenAgainstEach, generator order: injection, then weakening).
//
// Near-duplicate, defined: the content words of each side (wordTokens, less FUNCTION_WORDS) are
// compared in order; similarity = 1 - (word-level edit distance) / (the longer sequence's
// length), 1 for two empty sequences. A negative whose similarity to its positive is >= the
// threshold (`nearDuplicate`, default 1) is dropped. At 1 that is a negative whose content words
// are the positive's, in order: it differs only in articles, copulas, punctuation, case or
// spacing. Lower thresholds also drop negatives with a few content words changed, and those are
// exactly the minimal pairs error injection is after ("a red star" -> "a blue star" in a
// 60-word description has similarity 0.98), which is why the default stays at 1.
import { wordTokens } from "../../eval/text.js";

/** The paper's limit on a completion's length, in words. */
export const MAX_WORDS = 350;

/** Words that carry no content of their own: differences in them alone make a near-duplicate. */
export const FUNCTION_WORDS: ReadonlySet<string> = new Set([
  "a",
  "an",
  "the",
  "is",
  "are",
  "was",
  "were",
  "be",
  "been",
  "there",
  "this",
  "that",
  "these",
  "those",
  "it",
  "its",
  "and",
  "of",
  "also",
  "which",
  "has",
  "have",
]);

export type NegativeDrop =
  | "empty-negative"
  | "negative-truncated"
  | "negative-too-long"
  | "identical"
  | "near-duplicate"
  | "duplicate-negative";

/** The drop codes of a whole stage, positives' included (drops.jsonl). */
export const NEGATIVE_DROPS: readonly NegativeDrop[] = [
  "empty-negative",
  "negative-truncated",
  "negative-too-long",
  "identical",
  "near-duplicate",
  "duplicate-negative",
];

/** Whitespace-separated tokens, as the paper counts a completion's words. */
export function wordCount(text: string): number {
  const t = text.trim();
  return t === "" ? 0 : t.split(/\s+/).length;
}

/** Lower case, every run of non-alphanumerics one space, trimmed: the key of `identical`. */
export function normalizeText(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
}

/** The content words of a text, in order. */
export function contentWords(text: string): string[] {
  return wordTokens(text).filter((w) => !FUNCTION_WORDS.has(w));
}

/** Word-level edit distance (insertions, deletions, substitutions of whole words). */
export function wordEditDistance(a: readonly string[], b: readonly string[]): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}

/** 1 - distance / longer length over content words (1 when both have none). */
export function contentSimilarity(a: string, b: string): number {
  const x = contentWords(a);
  const y = contentWords(b);
  const longer = Math.max(x.length, y.length);
  return longer === 0 ? 1 : 1 - wordEditDistance(x, y) / longer;
}

export interface NegativeRules {
  /** Default MAX_WORDS. */
  maxWords: number;
  /** Similarity at or above which a negative is a near-duplicate, in (0, 1]; default 1. */
  nearDuplicate: number;
  /** Drop negatives that stopped on the token limit (default true). */
  dropTruncated: boolean;
}

export const DEFAULT_RULES: NegativeRules = { maxWords: MAX_WORDS, nearDuplicate: 1, dropTruncated: true };

/** Why a negative gives no pair with its positive, or null when it may. */
export function judgeNegative(
  positive: string,
  negative: { text: string; finishReason: "stop" | "length" },
  rules: NegativeRules = DEFAULT_RULES,
): Exclude<NegativeDrop, "duplicate-negative"> | null {
  const text = negative.text.trim();
  if (text === "") return "empty-negative";
  if (rules.dropTruncated && negative.finishReason === "length") return "negative-truncated";
  if (wordCount(text) > rules.maxWords) return "negative-too-long";
  if (normalizeText(text) === normalizeText(positive)) return "identical";
  if (contentSimilarity(positive, text) >= rules.nearDuplicate) return "near-duplicate";
  return null;
}
