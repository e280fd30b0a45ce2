// Mapping between the backend interface (types.ts) and OpenAI-compatible chat completion bodies
// and answers, including the vLLM extensions the HTTP backend uses (METHODS.md, Serving engines):
// `top_k`, `prompt_logprobs`, `add_generation_prompt`, `continue_final_message`,
// `return_tokens_as_token_ids`, and `POST /tokenize`. Pure functions: no I/O.
//
// Answers are checked field by field; anything missing or of the wrong type is a
// MalformedResponseError (retried: a proxy or a server under stress can truncate answers).
import type { ChatCompletionContentPart, ChatCompletionMessageParam } from "openai/resources/chat/completions";
import type { ChatImage } from "../images/chat-image.js";
import { toDataUri } from "../images/data-uri.js";
import { MalformedResponseError } from "./retry.js";
import type { ChatTurn, GeneratedSample, GenerationParams, ScoreResult } from "./types.js";

export const IMAGE_MARKER = "<image>";

/** A request that cannot be sent as given (not retried). */
export class BadRequestError extends Error {
  override name = "BadRequestError";
}

/**
 * OpenAI chat messages: a user turn with `<image>` markers becomes content parts, text and
 * image_url in the markers' order (the text around a marker kept verbatim, empty parts left
 * out); turns without markers stay plain strings (what text-only servers expect). withImages
 * false drops the markers and images (plain strings): what /tokenize needs to find a span.
 */
export function toChatMessages(
  messages: readonly ChatTurn[],
  images: readonly ChatImage[],
  where: string,
  options: { withImages?: boolean } = {},
): ChatCompletionMessageParam[] {
  const withImages = options.withImages ?? true;
  let next = 0;
  const out = messages.map((m, i): ChatCompletionMessageParam => {
    if (m.role !== "user" && m.role !== "assistant")
      throw new BadRequestError(`${where}.messages[${i}].role: ${JSON.stringify(m.role)} is not user or assistant`);
    if (typeof m.content !== "string") throw new BadRequestError(`${where}.messages[${i}].content is not a string`);
    const pieces = m.content.split(IMAGE_MARKER);
    if (m.role === "assistant") {
      if (pieces.length > 1)
        throw new BadRequestError(`${where}.messages[${i}]: an assistant turn holds ${IMAGE_MARKER}`);
      return { role: "assistant", content: m.content };
    }
    if (pieces.length === 1) return { role: "user", content: m.content };
    if (next + pieces.length - 1 > images.length)
      throw new BadRequestError(
        `${where}: the messages hold more ${IMAGE_MARKER} markers than images (${images.length})`,
      );
    if (!withImages) {
      next += pieces.length - 1;
      return { role: "user", content: pieces.join("") };
    }
    const parts: ChatCompletionContentPart[] = [];
    pieces.forEach((text, k) => {
      if (k > 0) parts.push({ type: "image_url", image_url: { url: toDataUri(images[next++]) } });
      if (text !== "") parts.push({ type: "text", text });
    });
    return { role: "user", content: parts };
  });
  if (next !== images.length)
    throw new BadRequestError(`${where}: ${images.length} images but ${next} ${IMAGE_MARKER} markers in the messages`);
  return out;
}

/** The body of one generation request (n samples of one conversation). */
export function generationBody(
  model: string,
  messages: ChatCompletionMessageParam[],
  assistantPrefix: string | undefined,
  params: GenerationParams,
  n: number,
  seed: number,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model,
    messages: assistantPrefix === undefined ? messages : [...messages, { role: "assistant", content: assistantPrefix }],
    n,
    temperature: params.temperature,
    top_p: params.topP,
    max_tokens: params.maxTokens,
    seed,
  };
  if (params.topK > 0) body.top_k = params.topK;
  if (params.stop.length > 0) body.stop = params.stop;
  if (params.logprobs) {
    body.logprobs = true;
    // vLLM names tokens "token_id:<id>" instead of their text: ids, as the embedded backend.
    body.return_tokens_as_token_ids = true;
  }
  if (assistantPrefix !== undefined) {
    // The answer continues the prefix (vLLM's, and serve's, chat template options).
    body.add_generation_prompt = false;
    body.continue_final_message = true;
  }
  return body;
}

/** The body of a teacher-forcing request: the whole conversation as prompt, one token generated. */
export function scoringBody(model: string, messages: ChatCompletionMessageParam[]): Record<string, unknown> {
  return {
    model,
    messages,
    // The template closes the answer's turn (its end-of-turn token is scored, as the embedded
    // scorer does); continue_final_message would leave it open.
    add_generation_prompt: false,
    continue_final_message: false,
    max_completion_tokens: 1,
    max_tokens: 1,
    temperature: 0,
    prompt_logprobs: 0,
  };
}

// --- answers ---------------------------------------------------------------------------------------

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** "token_id:123" (vLLM's return_tokens_as_token_ids) → "123"; other names unchanged. */
export function tokenName(token: string): string {
  return token.startsWith("token_id:") ? token.slice("token_id:".length) : token;
}

/** The samples of a chat completion answer, in choice index order. */
export function parseChoices(answer: unknown, n: number, wantLogprobs: boolean, where: string): GeneratedSample[] {
  if (!isObject(answer) || !Array.isArray(answer.choices))
    throw new MalformedResponseError(`${where}: the answer has no choices list`);
  const choices = [...answer.choices];
  if (choices.length !== n) throw new MalformedResponseError(`${where}: asked for ${n} choices, got ${choices.length}`);
  choices.sort((a, b) => (isObject(a) && isObject(b) ? Number(a.index) - Number(b.index) : 0));
  return choices.map((choice, j) => {
    const at = `${where}.choices[${j}]`;
    if (!isObject(choice) || !isObject(choice.message)) throw new MalformedResponseError(`${at}: no message`);
    const text = choice.message.content ?? "";
    if (typeof text !== "string") throw new MalformedResponseError(`${at}.message.content is not a string`);
    const finishReason: GeneratedSample["finishReason"] = choice.finish_reason === "length" ? "length" : "stop";
    const sample = { text, finishReason, ...stopStringOf(choice) };
    if (!wantLogprobs) return { ...sample, tokens: [], logprobs: null };
    const content = isObject(choice.logprobs) ? choice.logprobs.content : undefined;
    if (!Array.isArray(content)) throw new MalformedResponseError(`${at}.logprobs.content is missing`);
    const tokens: string[] = [];
    const logprobs: number[] = [];
    content.forEach((entry, k) => {
      if (!isObject(entry) || typeof entry.token !== "string" || typeof entry.logprob !== "number")
        throw new MalformedResponseError(`${at}.logprobs.content[${k}] lacks token or logprob`);
      tokens.push(tokenName(entry.token));
      logprobs.push(entry.logprob);
    });
    return { ...sample, tokens, logprobs };
  });
}

/**
 * vLLM's `stop_reason`: the stop string a choice ended on, or null for the end of the answer
 * (also an int: a stop token id, which is no stop string); nothing when the server leaves it out
 * (OpenAI, llama.cpp), so that callers know it cannot say.
 */
function stopStringOf(choice: Record<string, unknown>): Pick<GeneratedSample, "stopString"> {
  if (!("stop_reason" in choice) || choice.stop_reason === undefined) return {};
  const reason = choice.stop_reason;
  return { stopString: choice.finish_reason === "stop" && typeof reason === "string" ? reason : null };
}

/** One prompt position of vLLM's prompt_logprobs: token id → its log-prob (null at position 0). */
export type PromptLogprobEntry = Map<string, number> | null;

// The raw `prompt_logprobs` of an answer: vLLM puts it at the top level, older versions (and
// some proxies) inside the first choice.
function rawPromptLogprobs(answer: Record<string, unknown>): unknown {
  const list = answer.prompt_logprobs;
  if (list === undefined && Array.isArray(answer.choices) && isObject(answer.choices[0]))
    return answer.choices[0].prompt_logprobs;
  return list;
}

/** The `prompt_logprobs` list, or null when the server left it out. */
export function parsePromptLogprobs(answer: unknown, where: string): PromptLogprobEntry[] | null {
  if (!isObject(answer)) throw new MalformedResponseError(`${where}: the answer is not a JSON object`);
  const list = rawPromptLogprobs(answer);
  if (list === undefined || list === null) return null;
  if (!Array.isArray(list)) throw new MalformedResponseError(`${where}.prompt_logprobs is not a list`);
  return list.map((entry, t) => {
    if (entry === null) return null;
    if (!isObject(entry)) throw new MalformedResponseError(`${where}.prompt_logprobs[${t}] is not an object`);
    const map = new Map<string, number>();
    for (const [id, value] of Object.entries(entry)) {
      const logprob = isObject(value) ? value.logprob : value;
      if (typeof logprob !== "number")
        throw new MalformedResponseError(`${where}.prompt_logprobs[${t}]["${id}"] has no numeric logprob`);
      map.set(id, logprob);
    }
    return map;
  });
}

/**
 * The `decoded_token` of every entry of `prompt_logprobs` (vLLM and `selfsynth serve` send it),
 * by position and token id; positions or ids without one are absent. Read beside
 * parsePromptLogprobs, which has already checked the list's shape.
 */
export function parsePromptDecodedTokens(answer: unknown): (Map<string, string> | null)[] {
  const list = isObject(answer) ? rawPromptLogprobs(answer) : null;
  if (!Array.isArray(list)) return [];
  return list.map((entry) => {
    if (!isObject(entry)) return null;
    const map = new Map<string, string>();
    for (const [id, value] of Object.entries(entry))
      if (isObject(value) && typeof value.decoded_token === "string") map.set(id, value.decoded_token);
    return map;
  });
}

/** The token ids of a `/tokenize` answer (`{tokens: number[], count}`). */
export function parseTokenizeAnswer(answer: unknown, where: string): number[] {
  if (!isObject(answer) || !Array.isArray(answer.tokens) || !answer.tokens.every((t) => Number.isInteger(t)))
    throw new MalformedResponseError(`${where}: the /tokenize answer has no list of integer tokens`);
  return answer.tokens as number[];
}

/**
 * The response's scores from the token ids of the prompt (conversation without the answer, with
 * the generation prompt), of the whole conversation, and the prompt_logprobs of the whole
 * conversation. The span is aligned from the end: servers may expand image placeholders in the
 * scored prompt that /tokenize (sent without images) does not hold, but the answer is last in
 * both, and its length is full.length - prompt.length either way.
 */
export function scoreFromSpans(
  promptIds: number[],
  fullIds: number[],
  promptLogprobs: PromptLogprobEntry[],
  where: string,
  /** parsePromptDecodedTokens of the same answer: gives the result its `pieces` when complete. */
  decoded: readonly (Map<string, string> | null)[] = [],
): ScoreResult {
  if (fullIds.length <= promptIds.length || !promptIds.every((id, i) => fullIds[i] === id)) {
    throw new MalformedResponseError(
      `${where}: /tokenize gives a conversation that does not extend its prompt (${promptIds.length} and ${fullIds.length} tokens)`,
    );
  }
  const span = fullIds.slice(promptIds.length);
  const offset = promptLogprobs.length - span.length;
  if (offset < 1)
    throw new MalformedResponseError(
      `${where}: prompt_logprobs holds ${promptLogprobs.length} positions, the answer alone ${span.length} tokens`,
    );
  const logprobs = span.map((id, j) => {
    const entry = promptLogprobs[offset + j];
    const logprob = entry?.get(String(id));
    if (logprob === undefined) {
      throw new MalformedResponseError(
        `${where}: prompt_logprobs[${offset + j}] has no entry for the answer's token ${id} (token spans disagree)`,
      );
    }
    return logprob;
  });
  const pieces = span.map((id, j) => decoded[offset + j]?.get(String(id)));
  const result = { tokens: span.map(String), logprobs, total: logprobs.reduce((a, b) => a + b, 0) };
  return pieces.every((p) => p !== undefined) ? { ...result, pieces: pieces as string[] } : result;
}
