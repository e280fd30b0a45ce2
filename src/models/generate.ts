// Sampling from the embedded VLM with a KV cache: every request's prompt (the chat template with
// a generation prompt) is repeated n times, all rows are left-padded into one batch, the prompt
// is run once per request and its cache copied to its n rows, then one token per row per step.
// Rows that finish leave the batch. How tokens are chosen (temperature, top-k, top-p, banned
// tokens, per-row seeds, stop strings) is sampling.ts; how rows are batched and stepped, with or
// without the cache, is batching.ts.
import { Generator, keep, noGrad } from "../engine/index.js";
import { cachedStepper, checkImage, GenerateError, type MakeStepper, uncachedStepper } from "./batching.js";
import { type ChatMessage, encodeChat } from "./chat-template.js";
import {
  bannedMask,
  checkParams,
  DEFAULT_SAMPLING,
  finishRow,
  pickTokens,
  type RowState,
  rowSeed,
  type SamplingParams,
} from "./sampling.js";
import type { Tokenizer } from "./tokenizer.js";
import type { VLM } from "./vlm.js";

export interface GenerateRequest {
  /** 3*H*W floats in [0, 1], channels first, or null for a text-only prompt. */
  image: Float32Array | null;
  /** The conversation so far, ending with the user's turn. */
  messages: ChatMessage[];
  /**
   * The start of the answer, to be continued (CSR's sentence-level stepping): its tokens follow
   * `<|assistant|>`; the samples hold only the continuation.
   */
  assistantPrefix?: string;
  /**
   * This request's own seed: its samples then equal `generate([request], {seed})` whatever else
   * is in the batch, so callers can batch requests that each carry a seed (serve, backends).
   */
  seed?: number;
}

/** Called during generation, for each generated token of each row, in order (streaming). */
export type TokenListener = (request: number, sample: number, tokenId: number, logprob: number) => void;

export interface Sample {
  /** The answer without special tokens, cut before a stop string. */
  text: string;
  /** Every generated id, including a closing `<|end|>`/`<eos>` or the token completing a stop string. */
  tokenIds: number[];
  /** The model's log-prob of each generated id (raw log-softmax, before any sampling transform). */
  logprobs: number[];
  finishReason: "stop" | "length";
  /**
   * The stop string the sample ended on, or null (the answer's end, or length): what vLLM's
   * OpenAI API calls `stop_reason`, which tells a sentence's stop from the answer's end.
   */
  stopString: string | null;
}

// --- the loop --------------------------------------------------------------------------------------

/**
 * The loop of generate() and generateNoCache(): one token per running row per step, until all
 * are done. Exported for decoders that make their next-token logits another way (a stepper of
 * their own, e.g. contrastive-decoding.ts) and sample them exactly as generate() does.
 */
export function generateWith(
  model: VLM,
  tokenizer: Tokenizer,
  requests: GenerateRequest[],
  params: Partial<SamplingParams>,
  makeStepper: MakeStepper,
  onToken?: TokenListener,
): Sample[][] {
  const p: SamplingParams = { ...DEFAULT_SAMPLING, ...params };
  checkParams(p);
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new GenerateError(
      `tokenizer has ${tokenizer.vocabSize} tokens, the model's vocabulary only ${model.config.vocabSize}`,
    );
  }
  if (requests.length === 0) return [];
  requests.forEach((r, i) => {
    if (r.seed !== undefined && (!Number.isSafeInteger(r.seed) || r.seed < 0)) {
      throw new GenerateError(`requests[${i}].seed: ${r.seed} must be a non-negative integer`);
    }
  });
  const s = tokenizer.specialIds;
  const prompts = requests.map((r, i) => {
    const ids = encodeChat(tokenizer, r.messages, {
      numImageTokens: model.numImageTokens,
      addGenerationPrompt: true,
    }).inputIds;
    checkImage(model, r.image, ids, s.image, `requests[${i}]`);
    if (r.assistantPrefix === undefined) return ids;
    const prefix = tokenizer.encode(r.assistantPrefix);
    if (prefix.some((id) => id === s.image || id === s.end)) {
      throw new GenerateError(`requests[${i}].assistantPrefix: holds <image> or <|end|>`);
    }
    return [...ids, ...prefix];
  });
  const maxPositions = model.config.decoder.maxPositions;
  prompts.forEach((ids, i) => {
    if (ids.length >= maxPositions) {
      throw new GenerateError(
        `requests[${i}]: the prompt's ${ids.length} tokens leave no room under decoder.maxPositions ${maxPositions}`,
      );
    }
  });
  const rows: RowState[] = requests.flatMap((_, request) =>
    Array.from({ length: p.n }, () => ({
      request,
      tokenIds: [],
      logprobs: [],
      text: "",
      finishReason: null,
      stopString: null,
    })),
  );
  const gens = rows.map((r, i) => {
    const own = requests[r.request].seed;
    const sample = i - r.request * p.n;
    // A request with its own seed draws as it would alone (request index 0).
    return new Generator(own === undefined ? rowSeed(p.seed, r.request, sample) : rowSeed(own, 0, sample));
  });
  const banned = noGrad(() => keep(bannedMask(tokenizer, model.config.vocabSize)));
  const stepper = makeStepper(
    prompts,
    rows.map((r) => r.request),
  );
  let active = rows.map((_, i) => i); // rows still running, in batch order
  try {
    let logits = stepper.start();
    for (;;) {
      const picked = pickTokens(
        logits,
        banned,
        p,
        active.map((r) => gens[r]),
      );
      logits.dispose();
      const keepIdx: number[] = [];
      const tokens: number[] = [];
      active.forEach((r, i) => {
        const row = rows[r];
        const id = picked.ids[i];
        row.tokenIds.push(id);
        row.logprobs.push(picked.logprobs[i]);
        onToken?.(row.request, r - row.request * p.n, id, picked.logprobs[i]);
        finishRow(row, id, tokenizer, p, prompts[row.request].length, maxPositions);
        if (row.finishReason === null) {
          keepIdx.push(i);
          tokens.push(id);
        }
      });
      active = keepIdx.map((i) => active[i]);
      if (active.length === 0) break;
      logits = stepper.advance(keepIdx, tokens);
    }
  } finally {
    stepper.dispose();
    banned.dispose();
  }
  const out: Sample[][] = requests.map(() => []);
  for (const row of rows) {
    out[row.request].push({
      text: row.text,
      tokenIds: row.tokenIds,
      logprobs: row.logprobs,
      finishReason: row.finishReason ?? "length",
      stopString: row.stopString,
    });
  }
  return out;
}

const images = (requests: GenerateRequest[]) => requests.map((r) => r.image);

/**
 * n samples per request, generated with a KV cache; deterministic given params.seed. onToken
 * sees every generated token as it is drawn (serve streams with it).
 */
export function generate(
  model: VLM,
  tokenizer: Tokenizer,
  requests: GenerateRequest[],
  params: Partial<SamplingParams> = {},
  onToken?: TokenListener,
): Sample[][] {
  return generateWith(
    model,
    tokenizer,
    requests,
    params,
    cachedStepper(model, tokenizer.specialIds.pad, images(requests)),
    onToken,
  );
}

/** As generate(), recomputing the full sequences at every step: the KV cache's reference. */
export function generateNoCache(
  model: VLM,
  tokenizer: Tokenizer,
  requests: GenerateRequest[],
  params: Partial<SamplingParams> = {},
): Sample[][] {
  return generateWith(
    model,
    tokenizer,
    requests,
    params,
    uncachedStepper(model, tokenizer.specialIds.pad, images(requests)),
  );
}
