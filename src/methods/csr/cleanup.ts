// CSR's cleanups of candidate sentences (METHODS.md section 3; the released code's
// inference_csr/utils.py clean_tree and score.py dfs_score): a sentence is dropped, with its
// whole subtree, when its new text
//   - is shorter than 4 characters once odd characters are removed ("short"),
//   - holds Korean, Japanese kana, Cyrillic or emoji characters, or a run of `&nbsp;` ("script"),
//   - repeats: one word 6 times in a row, one character 11 times in a row (spaces between allowed),
//     or the code's literal runs of t, s, ", " and "'" ("repetition"),
//   - holds more than 5 line breaks ("newlines").
// The code applies them after the search, so a dropped sentence's subtree was searched for
// nothing; here they apply as the search goes (search.ts), before a node can be kept.

export type CleanupReason = "short" | "script" | "repetition" | "newlines";

export const MIN_NEW_CHARACTERS = 4;
const MAX_NEWLINES = 5;

// The code's clean_text: characters outside this set are removed before the length check.
const ODD_CHARACTERS = /[^\w\s.,?!;:'"\-()/[\]{}+$€£*=><%°^™©®♫♪π√]+/gu;
const SCRIPTS = /[\u3130-\u318F\uAC00-\uD7AF\u0400-\u04FF\u3040-\u309F\u30A0-\u30FF\u{1F300}-\u{1F77F}]|(&nbsp;){2,}/u;
const REPEATED_WORD = /\b(\w+)\b(?:\s+\1\b){5,}/u;
const REPEATED_CHARACTER = /(.)(?:\s*\1){10}/u;
const LITERAL_RUNS = ["ttttttttttt", "sssssssssss", ", , , , , , , , , , , , ,", "''''''''''"];

/** Why `sentence` is dropped, or null when it stays. */
export function sentenceDefect(sentence: string): CleanupReason | null {
  if (SCRIPTS.test(sentence)) return "script";
  if (
    REPEATED_WORD.test(sentence) ||
    REPEATED_CHARACTER.test(sentence) ||
    LITERAL_RUNS.some((run) => sentence.includes(run))
  )
    return "repetition";
  if ((sentence.match(/\n/g) ?? []).length > MAX_NEWLINES) return "newlines";
  if (sentence.replace(ODD_CHARACTERS, "").trim().length < MIN_NEW_CHARACTERS) return "short";
  return null;
}
