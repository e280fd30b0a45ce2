// Teacher-forced scoring: the model's per-token log-probs of given responses (DPO's and CSR's
// log-likelihoods, vLLM's `prompt_logprobs`). An item's prompt is the chat template of all its
// messages but the last, with the generation prompt, exactly as generate() builds it; the
// response is the last (assistant) message's content and its closing `<|end|>`, or the given
// responseIds (e.g. the tokens a sample was generated with). Items are left-padded into batches.
import { noGrad, tidy } from "../engine/index.js";
import { checkImage, GenerateError, leftPadBatch, paddedForward } from "./batching.js";
import { type ChatMessage, encodeChat } from "./chat-template.js";
import type { Tokenizer } from "./tokenizer.js";
import type { VLM } from "./vlm.js";

export interface ScoreItem {
  image: Float32Array | null;
  /** The conversation, ending with the assistant response to score. */
  messages: ChatMessage[];
  /** Score these ids as the response instead of the last message's encoding. */
  responseIds?: number[];
}

export interface ScoredResponse {
  /** The response's ids, ending with `<|end|>` when taken from the messages. */
  tokenIds: number[];
  /** log p(token | image, prompt, earlier response tokens), one per token. */
  logprobs: number[];
}

/** Prompt ids and response ids of one item under the chat template. */
export function splitItem(
  tokenizer: Tokenizer,
  item: ScoreItem,
  numImageTokens: number,
  where: string,
): { prompt: number[]; response: number[] } {
  const { messages } = item;
  if (messages.length < 2 || messages[messages.length - 1].role !== "assistant") {
    throw new GenerateError(`${where}.messages: must end with the assistant response to score`);
  }
  const prompt = encodeChat(tokenizer, messages.slice(0, -1), { numImageTokens, addGenerationPrompt: true }).inputIds;
  let response = item.responseIds;
  if (response === undefined) {
    const full = encodeChat(tokenizer, messages, { numImageTokens, addGenerationPrompt: false }).inputIds;
    // The template makes the prompt a prefix of the whole conversation; checked, not assumed.
    if (!prompt.every((id, i) => full[i] === id))
      throw new GenerateError(`${where}: the prompt is not a prefix of the conversation`);
    response = full.slice(prompt.length);
  }
  if (response.length === 0) throw new GenerateError(`${where}: empty response`);
  return { prompt, response: [...response] };
}

/** Per-token log-probs of each item's response, in batches of batchSize items. */
export function scoreResponses(
  model: VLM,
  tokenizer: Tokenizer,
  items: ScoreItem[],
  options: { batchSize?: number } = {},
): ScoredResponse[] {
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new GenerateError(`score: batchSize ${batchSize} must be a positive integer`);
  const s = tokenizer.specialIds;
  const V = model.config.vocabSize;
  const split = items.map((item, i) => {
    const parts = splitItem(tokenizer, item, model.numImageTokens, `items[${i}]`);
    checkImage(model, item.image, parts.prompt, s.image, `items[${i}]`);
    if (parts.response.some((id) => !Number.isInteger(id) || id < 0 || id >= V || id === s.image)) {
      throw new GenerateError(`items[${i}]: the response holds an id outside the vocabulary or an <image> id`);
    }
    const length = parts.prompt.length + parts.response.length;
    if (length > model.config.decoder.maxPositions) {
      throw new GenerateError(
        `items[${i}]: ${length} tokens exceed decoder.maxPositions ${model.config.decoder.maxPositions}`,
      );
    }
    return parts;
  });
  const out: ScoredResponse[] = [];
  for (let start = 0; start < items.length; start += batchSize) {
    const chunk = split.slice(start, start + batchSize);
    const seqs = chunk.map((c) => [...c.prompt, ...c.response]);
    const images = items.slice(start, start + batchSize).map((item) => item.image);
    const R = Math.max(...chunk.map((c) => c.response.length)); // the longest response
    const perToken = noGrad(() =>
      tidy(() => {
        const batch = leftPadBatch(model, s.pad, seqs, images);
        const [B, T] = batch.ids.shape;
        // Left padding right-aligns the responses: only the last R + 1 columns predict them.
        const from = T - 1 - R;
        const logits = paddedForward(model, batch, { logitsFrom: from }).logits; // (B, R + 1, V): columns from .. T-1
        // Column t predicts the token in column t + 1.
        const next = batch.ids.slice(1, from + 1).unsqueeze(-1); // (B, R, 1)
        return logits.slice(1, 0, R).logSoftmax(-1).gather(2, next).reshape([B, R]).toFloat32();
      }),
    );
    chunk.forEach((c, b) => {
      // Row b's response fills the last of the R scored columns: token j at column R - len + j.
      const first = R - c.response.length;
      out.push({ tokenIds: c.response, logprobs: c.response.map((_, j) => perToken[b * R + first + j]) });
    });
  }
  return out;
}
