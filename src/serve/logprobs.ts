// Log-probs in the API's shapes.
//
// - Generated tokens (OpenAI's `logprobs`): per token {token, bytes, logprob, top_logprobs}.
//   The chosen token's log-prob is the model's raw log-softmax (models/sampling.ts), as vLLM reports by
//   default. The alternatives for `top_logprobs > 0` come from one teacher-forced pass over
//   prompt + sample (the same numbers the sampler saw, up to float rounding); that pass also
//   gives the chosen token's value then, so one entry never mixes two computations.
// - Prompt tokens (vLLM's `prompt_logprobs: k`): a list aligned with the prompt's ids, null for
//   the first (nothing predicts it), then {"<id>": {logprob, rank, decoded_token}} holding the
//   prompt's own token and the k most likely ones. Rank is 1 + the number of tokens more likely.
// Only ids the tokenizer knows are candidates (a model's vocabulary may be padded past it).
// Token strings: a special token is its name (`<|end|>`); a word is the text it adds to the
// answer (" red", ","), so that the strings of an answer's words concatenate to its text.
import { noGrad, tidy } from "../engine/index.js";
import { leftPadBatch, paddedForward } from "../models/batching.js";
import { SPECIAL_TOKENS, type Tokenizer } from "../models/tokenizer.js";
import type { VLM } from "../models/vlm.js";

export interface PositionLogprobs {
  /** The token at this position and its log-prob given everything before it. */
  id: number;
  logprob: number;
  rank: number;
  /** The k most likely ids, most likely first. */
  top: { id: number; logprob: number }[];
}

/**
 * Teacher-forced log-probs of ids[from..] given their prefixes (from >= 1), with the top k
 * alternatives at each position. One forward pass over ids[0 .. n-2].
 */
export function teacherForced(
  model: VLM,
  tokenizer: Tokenizer,
  ids: number[],
  image: Float32Array | null,
  from: number,
  k: number,
): PositionLogprobs[] {
  if (from < 1 || from > ids.length) throw new RangeError(`teacherForced: from ${from} outside 1..${ids.length}`);
  if (from === ids.length) return [];
  const input = ids.slice(0, -1);
  const V = model.config.vocabSize;
  const rows = noGrad(() =>
    tidy(() => {
      const batch = leftPadBatch(model, tokenizer.specialIds.pad, [input], [image]);
      const out = paddedForward(model, batch, { logitsFrom: from - 1 });
      return out.logits.logSoftmax(-1).toFloat32(); // (1, T - from + 1, V), T = ids.length - 1
    }),
  );
  const known = Math.min(V, tokenizer.vocabSize);
  return ids.slice(from).map((id, j) => summarize(rows.subarray(j * V, j * V + known), id, k));
}

/** Rank and top k of one row of log-probs. */
export function summarize(row: Float32Array, id: number, k: number): PositionLogprobs {
  const logprob = row[id];
  let above = 0;
  const top: { id: number; logprob: number }[] = []; // sorted, most likely first
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (v > logprob) above++;
    if (k > 0 && (top.length < k || v > top[top.length - 1].logprob)) {
      let at = top.length;
      while (at > 0 && top[at - 1].logprob < v) at--;
      top.splice(at, 0, { id: i, logprob: v });
      if (top.length > k) top.pop();
    }
  }
  return { id, logprob, rank: above + 1, top };
}

/** How token strings are shown (vLLM's return_tokens_as_token_ids gives `token_id:<id>`). */
export interface TokenNaming {
  tokenizer: Tokenizer;
  asIds: boolean;
}

/** The text a token adds after text that is (or is not) empty; special tokens add none. */
export function pieceOf(tokenizer: Tokenizer, id: number, afterText: boolean): string {
  if (id < SPECIAL_TOKENS.length || id >= tokenizer.vocabSize) return "";
  if (!afterText) return tokenizer.decode([id]);
  // decode() puts a space before a word unless it is the first or punctuation; any earlier
  // word gives the same answer, so one fixed word stands for the whole prefix.
  const anchor = tokenizer.decode([SPECIAL_TOKENS.length]);
  return tokenizer.decode([SPECIAL_TOKENS.length, id]).slice(anchor.length);
}

function tokenName(naming: TokenNaming, id: number, afterText: boolean): string {
  if (naming.asIds) return `token_id:${id}`;
  if (id < SPECIAL_TOKENS.length) return SPECIAL_TOKENS[id];
  if (id >= naming.tokenizer.vocabSize) return `token_id:${id}`;
  return pieceOf(naming.tokenizer, id, afterText);
}

const bytesOf = (s: string) => [...Buffer.from(s, "utf8")];

export interface OpenAILogprob {
  token: string;
  bytes: number[];
  logprob: number;
  top_logprobs: { token: string; bytes: number[]; logprob: number }[];
}

/**
 * OpenAI's `logprobs.content` for a sample: its ids with their log-probs, and per position the
 * top alternatives when given (teacher-forced, aligned with ids).
 */
export function openAILogprobs(
  naming: TokenNaming,
  ids: number[],
  logprobs: number[],
  top: PositionLogprobs[] | null,
): OpenAILogprob[] {
  let afterText = false;
  return ids.map((id, t) => {
    const entry: OpenAILogprob = {
      token: tokenName(naming, id, afterText),
      bytes: [],
      logprob: top === null ? logprobs[t] : top[t].logprob,
      top_logprobs: (top?.[t].top ?? []).map((alt) => {
        const token = tokenName(naming, alt.id, afterText);
        return { token, bytes: bytesOf(token), logprob: alt.logprob };
      }),
    };
    entry.bytes = bytesOf(entry.token);
    if (id >= SPECIAL_TOKENS.length) afterText = true;
    return entry;
  });
}

export type VllmPromptLogprobs = (Record<string, { logprob: number; rank: number; decoded_token: string }> | null)[];

/** vLLM's prompt_logprobs from the positions 1.. of a prompt (teacherForced with from = 1). */
export function vllmPromptLogprobs(tokenizer: Tokenizer, positions: PositionLogprobs[]): VllmPromptLogprobs {
  const name = (id: number) => (id < tokenizer.vocabSize ? tokenizer.tokenOf(id) : `token_id:${id}`);
  return [
    null,
    ...positions.map((p) => {
      const entry: Record<string, { logprob: number; rank: number; decoded_token: string }> = {};
      entry[String(p.id)] = { logprob: p.logprob, rank: p.rank, decoded_token: name(p.id) };
      p.top.forEach((alt, r) => {
        entry[String(alt.id)] ??= { logprob: alt.logprob, rank: r + 1, decoded_token: name(alt.id) };
      });
      return entry;
    }),
  ];
}

/**
 * The text each generated token adds, cut so that the pieces concatenate to the sample's text
 * (which ends before a stop string): the deltas of a stream.
 */
export function textPieces(tokenizer: Tokenizer, ids: number[], text: string): string[] {
  let afterText = false;
  let used = 0;
  return ids.map((id) => {
    const piece = pieceOf(tokenizer, id, afterText);
    if (piece !== "") afterText = true;
    const kept = piece.slice(0, Math.max(0, text.length - used));
    used += kept.length;
    return kept;
  });
}
