// COMPACT's filters of a teacher's question (METHODS.md section 5, step 3; the released code's
// compact/processor.py), each with its reason code, in the order the released code applies them:
//   uninformative-answer  the answer says nothing: empty, "none", "unknown", "not visible",
//                         "n/a" (the paper's list) and "not applicable", "unclear",
//                         "unavailable" (the released code's additions)
//   low-confidence        the teacher's confidence is below `minConfidence` (paper: 70; the
//                         released code sets every confidence to 90, so it never fires)
//   near-duplicate        word overlap |A ∩ B| / min(|A|, |B|) > `duplicateOverlap` (0.6) with a
//                         question the image already kept (A, B: the two questions' word sets)
// The verification that a question needs exactly its k capabilities is the teacher's own second
// call (teacher.ts), applied after these, as it costs a request.

/** Answers that carry no information (compared lower-cased, trimmed, end punctuation dropped). */
export const UNINFORMATIVE_ANSWERS: ReadonlySet<string> = new Set([
  "none",
  "unknown",
  "not visible",
  "n/a",
  "not applicable",
  "unclear",
  "unavailable",
]);

export type FilterDrop = "uninformative-answer" | "low-confidence" | "near-duplicate";

export interface FilterOptions {
  /** A question whose teacher confidence (0-100) is below this is dropped. */
  minConfidence: number;
  /** A question whose word overlap with a kept one exceeds this is dropped. */
  duplicateOverlap: number;
}

export function isUninformative(answer: string): boolean {
  const a = answer
    .trim()
    .toLowerCase()
    .replace(/^[\s"'.,;:!?]+|[\s"'.,;:!?]+$/g, "");
  return a === "" || UNINFORMATIVE_ANSWERS.has(a);
}

/**
 * A question's word set: lower-cased, split on white space, punctuation stripped from each word's
 * ends ("star?" is "star"; the released code keeps it attached), empty words dropped.
 */
export function questionWords(question: string): Set<string> {
  return new Set(
    question
      .toLowerCase()
      .split(/\s+/)
      .map((w) => w.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, ""))
      .filter((w) => w !== ""),
  );
}

/** |A ∩ B| / min(|A|, |B|) over the two questions' word sets; 0 when either has no word. */
export function wordOverlap(a: string, b: string): number {
  const wa = questionWords(a);
  const wb = questionWords(b);
  const smaller = Math.min(wa.size, wb.size);
  if (smaller === 0) return 0;
  let shared = 0;
  for (const w of wa) if (wb.has(w)) shared++;
  return shared / smaller;
}

/**
 * The first filter a question fails (null: it passes all three), given the questions the image
 * kept so far.
 */
export function screenQuestion(
  candidate: { question: string; answer: string; confidence: number },
  kept: readonly string[],
  options: FilterOptions,
): FilterDrop | null {
  if (isUninformative(candidate.answer)) return "uninformative-answer";
  if (!(candidate.confidence >= options.minConfidence)) return "low-confidence";
  if (kept.some((q) => wordOverlap(candidate.question, q) > options.duplicateOverlap)) return "near-duplicate";
  return null;
}
