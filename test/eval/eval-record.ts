// One evaluation record as the evaluator writes it: the bench parses the raw answer against the
// truth and judges it. The bench tests build records from (raw answer, truth) rows with this
// instead of each spelling out the record's fields.
import type { EvalRecord } from "../../src/eval/types.js";

interface ParsesAndJudges<Parsed, Truth, Verdict> {
  parse(rawAnswer: string, truth: Truth): Parsed;
  verdict(parsed: Parsed, truth: Truth): Verdict;
}

export function evalRecord<Parsed, Truth, Verdict>(
  bench: ParsesAndJudges<Parsed, Truth, Verdict>,
  id: string,
  raw: string,
  truth: Truth,
): EvalRecord<Parsed, Truth, Verdict> {
  const parsed = bench.parse(raw, truth);
  return {
    item_id: id,
    image_id: id,
    prompt: "",
    raw_answer: raw,
    parsed_answer: parsed,
    ground_truth: truth,
    verdict: bench.verdict(parsed, truth),
    finish_reason: "stop",
  };
}
