// Token choice for the embedded VLM's sampler (generate.ts): the sampling parameters, one token
// per running row, and when a row is done. Per-token log-probs are the model's raw log-softmax at
// the chosen token, before temperature, top-k and top-p (what vLLM reports as `logprobs`), so
// they equal teacher-forced scores of the same tokens (score.ts).
//
// Sampling follows Hugging Face / vLLM: logits / temperature, then top-k, then top-p (nucleus,
// Holtzman et al., arXiv 1904.09751) on the renormalized top-k, at least one token kept;
// temperature 0 is greedy. Tokens that cannot appear in an answer (`<pad>`, `<bos>`, `<image>`,
// `<|user|>`, `<|assistant|>`, ids past the tokenizer's vocabulary) are never sampled.
// Randomness: each row (sample j of request i) has its own generator seeded from (seed, i, j),
// so a call is deterministic given its seed, and a row's sample does not depend on which other
// rows share the batch or when they finish (one generator per call would couple them).
import { createHash } from "node:crypto";
import { arange, cat, type Generator, multinomial, type Tensor, tensorFrom, tidy } from "../engine/index.js";
import { GenerateError } from "./batching.js";
import type { Tokenizer } from "./tokenizer.js";

export interface SamplingParams {
  /** Samples per request. */
  n: number;
  /** 0 = greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 = off. */
  topP: number;
  /** Keep the k most likely tokens; 0 = off. */
  topK: number;
  maxNewTokens: number;
  /** Generation stops when the text contains one of these; the text ends before it. */
  stop: string[];
  /** Keep the stop string at the end of the text (vLLM's include_stop_str_in_output). */
  includeStopStr: boolean;
  seed: number;
}

export const DEFAULT_SAMPLING: SamplingParams = {
  n: 1,
  temperature: 1,
  topP: 1,
  topK: 0,
  maxNewTokens: 64,
  stop: [],
  includeStopStr: false,
  seed: 0,
};

/** Checks every field; an error names the field and what is wrong. */
export function checkParams(p: SamplingParams): void {
  const bad = (field: string, why: string) => new GenerateError(`sampling.${field}: ${why}`);
  if (!Number.isInteger(p.n) || p.n < 1) throw bad("n", `${p.n} must be a positive integer`);
  if (!(p.temperature >= 0) || !Number.isFinite(p.temperature))
    throw bad("temperature", `${p.temperature} must be >= 0`);
  if (!(p.topP > 0 && p.topP <= 1)) throw bad("topP", `${p.topP} must be in (0, 1]`);
  if (!Number.isInteger(p.topK) || p.topK < 0) throw bad("topK", `${p.topK} must be a non-negative integer`);
  if (!Number.isInteger(p.maxNewTokens) || p.maxNewTokens < 1)
    throw bad("maxNewTokens", `${p.maxNewTokens} must be a positive integer`);
  if (!Array.isArray(p.stop) || p.stop.some((s) => typeof s !== "string" || s === "")) {
    throw bad("stop", "must be a list of non-empty strings");
  }
  if (!Number.isSafeInteger(p.seed) || p.seed < 0) throw bad("seed", `${p.seed} must be a non-negative integer`);
}

/** The ids that are never sampled: special tokens that cannot appear in an answer, ids past the tokenizer. */
export function bannedTokenIds(tokenizer: Tokenizer, vocabSize: number): Set<number> {
  const s = tokenizer.specialIds;
  const banned = new Set([s.pad, s.bos, s.image, s.user, s.assistant]);
  for (let id = tokenizer.vocabSize; id < vocabSize; id++) banned.add(id);
  return banned;
}

/** (1, V) bool, true on ids that are never sampled (bannedTokenIds). */
export function bannedMask(tokenizer: Tokenizer, vocabSize: number): Tensor {
  const banned = new Uint8Array(vocabSize);
  for (const id of bannedTokenIds(tokenizer, vocabSize)) banned[id] = 1;
  return tensorFrom(banned, [1, vocabSize]);
}

/** Picks one token per row of logits (B, V); returns the ids and their raw log-probs. */
export function pickTokens(
  logits: Tensor,
  banned: Tensor,
  p: SamplingParams,
  gens: Generator[],
): { ids: number[]; logprobs: number[] } {
  return tidy(() => {
    const V = logits.size(1);
    const logp = logits.logSoftmax(-1);
    const scores = logits.maskedFill(banned, Number.NEGATIVE_INFINITY);
    let ids: Tensor; // (B, 1)
    if (p.temperature === 0) {
      ids = scores.argmax(-1, true);
    } else {
      const sorted = scores.div(p.temperature).sort(-1, true); // (B, V), largest first
      let values = sorted.values;
      if (p.topK > 0 && p.topK < V) {
        values = values.maskedFill(arange(0, V).ge(p.topK).unsqueeze(0), Number.NEGATIVE_INFINITY);
      }
      if (p.topP < 1) {
        const probs = values.softmax(-1);
        // Drop a token when the mass of the tokens before it already reaches topP (so the first
        // token always stays).
        const before = probs.cumsum(-1).sub(probs);
        values = values.maskedFill(before.ge(p.topP), Number.NEGATIVE_INFINITY);
      }
      // One draw per row from the row's own generator: a row's samples do not depend on which
      // other rows share the batch (or have already finished).
      const probs = values.softmax(-1);
      const choice = cat(
        gens.map((g, i) => multinomial(probs.select(0, i), 1, g)),
        0,
      ).unsqueeze(1); // (B, 1) positions in sorted order
      ids = sorted.indices.gather(1, choice);
    }
    return { ids: ids.reshape([-1]).toArray(), logprobs: logp.gather(1, ids).reshape([-1]).toArray() };
  });
}

/** A running row: sample j of request i, as far as it got. */
export interface RowState {
  request: number;
  tokenIds: number[];
  logprobs: number[];
  text: string;
  finishReason: "stop" | "length" | null;
  /** The stop string the row ended on (null: not ended, or ended otherwise). */
  stopString: string | null;
}

/** The seed of sample j of request i: a hash, so that every row draws an independent stream. */
export function rowSeed(seed: number, request: number, sample: number): number {
  return createHash("sha256").update(`${seed}:${request}:${sample}`).digest().readUIntBE(0, 6);
}

/** Sets the row's text and, when it is done, its finish reason. */
export function finishRow(
  row: RowState,
  id: number,
  tokenizer: Tokenizer,
  p: SamplingParams,
  promptLength: number,
  maxPositions: number,
): void {
  const s = tokenizer.specialIds;
  if (id === s.end || id === s.eos) {
    row.text = tokenizer.decode(row.tokenIds.slice(0, -1), { skipSpecial: true });
    row.finishReason = "stop";
    return;
  }
  row.text = tokenizer.decode(row.tokenIds, { skipSpecial: true });
  let cut = -1;
  let matched = "";
  for (const stop of p.stop) {
    const at = row.text.indexOf(stop);
    if (at >= 0 && (cut < 0 || at < cut)) {
      cut = at;
      matched = stop;
    }
  }
  if (cut >= 0) {
    row.text = row.text.slice(0, p.includeStopStr ? cut + matched.length : cut);
    row.finishReason = "stop";
    row.stopString = matched;
  } else if (row.tokenIds.length >= p.maxNewTokens || promptLength + row.tokenIds.length >= maxPositions) {
    row.finishReason = "length";
  }
}
