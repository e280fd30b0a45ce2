// POST /v1/chat/completions: a validated request becomes a ChatJob for the model runner, and
// the runner's result becomes a `chat.completion` object or a stream of
// `chat.completion.chunk` events.
import { randomUUID } from "node:crypto";
import { decodeImage, toModelInput } from "../images/codec.js";
import { ImageError } from "../images/errors.js";
import type { GenerateRequest, Sample } from "../models/generate.js";
import type { Tokenizer } from "../models/tokenizer.js";
import type { VLM } from "../models/vlm.js";
import { ApiError, badParam, imageApiError } from "./errors.js";
import { openAILogprobs, type TokenNaming, textPieces, vllmPromptLogprobs } from "./logprobs.js";
import { type Conversation, promptIds, toConversation } from "./messages.js";
import type { ChatJob, ChatResult } from "./model-runner.js";
import type { ChatCompletionRequest } from "./schema.js";

export interface ServeLimits {
  /** Largest request body in bytes (base64 images included). */
  maxBodyBytes: number;
  /** Largest width * height of an image, checked before it is decoded. */
  maxImagePixels: number;
  /** Images per request; the embedded VLM takes one image per prompt. */
  maxImagesPerRequest: number;
  /** Largest n. */
  maxN: number;
  /** Requests waiting for the model at most (more get 503). */
  maxPending: number;
}

export const DEFAULT_LIMITS: ServeLimits = {
  maxBodyBytes: 16 * 1024 * 1024,
  maxImagePixels: 4096 * 4096,
  maxImagesPerRequest: 1,
  maxN: 32,
  maxPending: 256,
};

export interface ChatContext {
  model: VLM;
  tokenizer: Tokenizer;
  modelName: string;
  limits: ServeLimits;
}

/** Checks the request's model name: absent, or the served one. */
export function checkModelName(name: string | null | undefined, served: string): void {
  if (name !== undefined && name !== null && name !== served) {
    throw new ApiError(404, `The model \`${name}\` does not exist.`, "model", "model_not_found");
  }
}

/** The prompt's length against the model's (vLLM's message), and max_tokens defaulted to the room left. */
function completionBudget(ctx: ChatContext, conv: Conversation, promptLength: number, asked: number | null): number {
  const maxLen = ctx.model.config.decoder.maxPositions;
  const tooLong = (requested: number, completion: number) =>
    new ApiError(
      400,
      `This model's maximum context length is ${maxLen} tokens. However, you requested ${requested} tokens ` +
        `(${promptLength} in the messages, ${completion} in the completion). ` +
        "Please reduce the length of the messages or completion.",
      "messages",
      "context_length_exceeded",
    );
  if (conv.mode === "closed") {
    if (promptLength > maxLen) throw tooLong(promptLength, 0);
    return asked ?? 1;
  }
  if (promptLength >= maxLen) throw tooLong(promptLength + (asked ?? 1), asked ?? 1);
  if (asked !== null && promptLength + asked > maxLen) throw tooLong(promptLength + asked, asked);
  return asked ?? maxLen - promptLength;
}

/** The request's image as model input, with image errors as 400s naming the field. */
async function imageInput(ctx: ChatContext, conv: Conversation): Promise<Float32Array | null> {
  if (conv.images.length === 0) return null;
  const { image, source } = conv.images[0];
  try {
    const decoded = await decodeImage(image.bytes, { maxPixels: ctx.limits.maxImagePixels, source });
    return await toModelInput(decoded, ctx.model.config.vision.imageSize, source);
  } catch (error) {
    throw error instanceof ImageError ? imageApiError(error) : error;
  }
}

/** Everything the runner needs; every problem is an ApiError thrown before the model is touched. */
export async function buildChatJob(
  ctx: ChatContext,
  req: ChatCompletionRequest,
  cancelled: () => boolean,
): Promise<ChatJob> {
  checkModelName(req.model, ctx.modelName);
  const n = req.n ?? 1;
  if (n > ctx.limits.maxN) throw badParam("n", `${n} is more than the limit of ${ctx.limits.maxN}`);
  if (req.stream && n > 1) throw badParam("n", "streaming is supported for n = 1 only");
  if ((req.top_logprobs ?? 0) > 0 && !req.logprobs) {
    throw badParam("top_logprobs", "needs logprobs to be true");
  }
  const conv = toConversation(req.messages, {
    add_generation_prompt: req.add_generation_prompt,
    continue_final_message: req.continue_final_message,
    maxImages: Math.min(ctx.limits.maxImagesPerRequest, 1),
  });
  const prompt = promptIds(ctx.tokenizer, conv, ctx.model.numImageTokens);
  const maxNewTokens = completionBudget(ctx, conv, prompt.length, req.max_completion_tokens ?? req.max_tokens ?? null);
  const image = await imageInput(ctx, conv);
  let generation: GenerateRequest | null = null;
  if (conv.mode === "generate") generation = { image, messages: conv.turns };
  if (conv.mode === "continue") {
    const last = conv.turns[conv.turns.length - 1];
    generation = { image, messages: conv.turns.slice(0, -1), assistantPrefix: last.content };
  }
  const stop = req.stop === null || req.stop === undefined ? [] : typeof req.stop === "string" ? [req.stop] : req.stop;
  const temperature = req.temperature ?? 1;
  return {
    prompt,
    image,
    generation,
    sampling: {
      n,
      temperature,
      topP: req.top_p ?? 1,
      topK: Math.max(0, req.top_k ?? 0),
      maxNewTokens,
      stop,
      includeStopStr: req.include_stop_str_in_output,
      seed: req.seed ?? 0,
    },
    seeded: req.seed !== null && req.seed !== undefined,
    topLogprobs: req.logprobs ? (req.top_logprobs ?? 0) : null,
    promptLogprobs: req.prompt_logprobs ?? null,
    cancelled,
  };
}

export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

export function newResponseMeta(model: string): ResponseMeta {
  return { id: `chatcmpl-${randomUUID().replaceAll("-", "")}`, created: Math.floor(Date.now() / 1000), model };
}

function usage(job: ChatJob, samples: Sample[]) {
  const completion = samples.reduce((sum, s) => sum + s.tokenIds.length, 0);
  return {
    prompt_tokens: job.prompt.length,
    completion_tokens: completion,
    total_tokens: job.prompt.length + completion,
  };
}

function naming(ctx: ChatContext, req: ChatCompletionRequest): TokenNaming {
  return { tokenizer: ctx.tokenizer, asIds: req.return_tokens_as_token_ids === true };
}

/** The `chat.completion` object. */
export function chatCompletion(
  ctx: ChatContext,
  req: ChatCompletionRequest,
  job: ChatJob,
  result: ChatResult,
  meta: ResponseMeta,
) {
  return {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: result.samples.map((s, index) => ({
      index,
      message: { role: "assistant", content: s.text, refusal: null },
      logprobs:
        job.topLogprobs === null
          ? null
          : { content: openAILogprobs(naming(ctx, req), s.tokenIds, s.logprobs, result.top[index]) },
      finish_reason: s.finishReason,
      // vLLM's: the stop string matched, null for the end of the answer or length.
      stop_reason: s.stopString,
    })),
    usage: usage(job, result.samples),
    prompt_logprobs: result.prompt === null ? null : vllmPromptLogprobs(ctx.tokenizer, result.prompt),
    system_fingerprint: null,
  };
}

/** The events of a stream (n = 1): role, one chunk per token, the finish, usage if asked. */
export function chatChunks(
  ctx: ChatContext,
  req: ChatCompletionRequest,
  job: ChatJob,
  result: ChatResult,
  meta: ResponseMeta,
): object[] {
  const s = result.samples[0];
  const head = { id: meta.id, object: "chat.completion.chunk", created: meta.created, model: meta.model };
  const choice = (delta: object, extra: object = {}) => ({
    ...head,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: null, ...extra }],
  });
  const chunks: object[] = [
    {
      ...choice({ role: "assistant", content: "" }),
      ...(result.prompt === null ? {} : { prompt_logprobs: vllmPromptLogprobs(ctx.tokenizer, result.prompt) }),
    },
  ];
  const pieces = textPieces(ctx.tokenizer, s.tokenIds, s.text);
  const entries =
    job.topLogprobs === null ? null : openAILogprobs(naming(ctx, req), s.tokenIds, s.logprobs, result.top[0]);
  pieces.forEach((piece, t) => {
    if (entries !== null) chunks.push(choice({ content: piece }, { logprobs: { content: [entries[t]] } }));
    else if (piece !== "") chunks.push(choice({ content: piece }));
  });
  chunks.push(choice({}, { finish_reason: s.finishReason, stop_reason: s.stopString }));
  if (req.stream_options?.include_usage) chunks.push({ ...head, choices: [], usage: usage(job, result.samples) });
  return chunks;
}
