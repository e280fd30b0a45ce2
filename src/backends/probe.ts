// What an OpenAI-compatible endpoint can do, found by asking it (once per endpoint):
//   1. GET /models: is the model served there (skipped when the server has no such route);
//   2. a one-token chat request with n = 2 and logprobs: n > 1? per-token log-probs?
//   3. a one-token request with vLLM's prompt_logprobs, and POST /tokenize with messages:
//      teacher-forced scoring needs both (llama.cpp and Ollama answer without prompt_logprobs);
//   4. a one-token request with a small PNG as an image_url part: images at all?
// A 4xx answer to a probe means "not supported" (401 and 403 excepted: a rejected key is an
// error); 429, 5xx and connection errors are retried under the backend's retry policy, and a
// probe that still fails is an error naming the endpoint.
import { APIError } from "openai";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { encodePng } from "../images/codec.js";
import { toDataUri } from "../images/data-uri.js";
import { parsePromptLogprobs, parseTokenizeAnswer, scoringBody } from "./http-mapping.js";
import type { RetryOutcome } from "./retry.js";
import type { BackendCapabilities } from "./types.js";

/** One HTTP call (retried by the caller's policy): GET or POST of a JSON body to a path or URL. */
export interface CallSpec {
  method: "get" | "post";
  /** A path under the base URL ("/chat/completions") or an absolute URL. */
  path: string;
  body?: Record<string, unknown>;
  /** Names the call in headers and failure reasons. */
  key: string;
}

export type Send = (spec: CallSpec) => Promise<RetryOutcome<unknown>>;

export interface EndpointProbe {
  baseUrl: string;
  capabilities: BackendCapabilities;
  /** Why a feature is missing, per feature, for error messages. */
  missing: Partial<Record<keyof BackendCapabilities, string>>;
  /** Where /tokenize answers (vLLM serves it at the server root, beside /v1), or null. */
  tokenizeUrl: string | null;
}

/** The n a server may take per request when it serves n > 1 at all (vLLM has no fixed cap). */
export const UNLIMITED_SAMPLES = 1024;

/** http://host:8000/v1 → [http://host:8000/tokenize, http://host:8000/v1/tokenize]. */
export function tokenizeUrls(baseUrl: string): string[] {
  const base = baseUrl.replace(/\/+$/, "");
  const root = base.replace(/\/v1$/, "");
  return [...new Set([`${root}/tokenize`, `${base}/tokenize`])];
}

class ProbeError extends Error {
  override name = "ProbeError";
}

/** The outcome's value; a 4xx is `unsupported` (null), anything else that failed throws. */
function valueOr4xx(outcome: RetryOutcome<unknown>, baseUrl: string, what: string): { value: unknown } | null {
  if (outcome.ok) return { value: outcome.value };
  const status = outcome.error instanceof APIError ? outcome.error.status : undefined;
  // A rejected key is no missing feature: every later call would be rejected too.
  if (status === 401 || status === 403) {
    throw new ProbeError(
      `endpoint ${baseUrl} refused ${what} as unauthorized (${outcome.reason}): the server wants an API key, or another one`,
    );
  }
  if (status !== undefined && status >= 400 && status < 500) return null;
  throw new ProbeError(`endpoint ${baseUrl}: probing ${what} failed: ${outcome.reason}`);
}

function reasonOf(outcome: RetryOutcome<unknown>): string {
  return outcome.reason ?? "no reason given";
}

let probeImage: Promise<string> | null = null;
/** A 32x32 grey PNG as a data URI (small, and above the minimum size of common processors). */
function tinyImage(): Promise<string> {
  probeImage ??= encodePng({ width: 32, height: 32, data: new Uint8Array(32 * 32 * 3).fill(128) }).then((bytes) =>
    toDataUri({ bytes, mimeType: "image/png" }),
  );
  return probeImage;
}

const HELLO: ChatCompletionMessageParam[] = [{ role: "user", content: "Hello" }];

/** GET /models: the model must be among those listed (a server without the route passes). */
async function checkModel(send: Send, baseUrl: string, model: string): Promise<void> {
  const listed = valueOr4xx(
    await send({ method: "get", path: "/models", key: "probe:models" }),
    baseUrl,
    "GET /models",
  );
  if (listed === null) return;
  const data = (listed.value as { data?: unknown })?.data;
  const ids = Array.isArray(data)
    ? data.map((m) => (m as { id?: unknown })?.id).filter((id) => typeof id === "string")
    : [];
  if (ids.length > 0 && !ids.includes(model)) {
    throw new ProbeError(
      `endpoint ${baseUrl} does not serve model ${JSON.stringify(model)} (it serves ${ids.join(", ")})`,
    );
  }
}

/** n = 2 with log-probs; a server that refuses n > 1 outright is asked again with n = 1. */
async function probeSampling(send: Send, baseUrl: string, model: string, missing: EndpointProbe["missing"]) {
  const chat = (n: number) =>
    send({
      method: "post",
      path: "/chat/completions",
      key: "probe:chat",
      body: { model, messages: HELLO, max_tokens: 1, temperature: 1, seed: 0, logprobs: true, n },
    });
  let maxSamplesPerRequest = UNLIMITED_SAMPLES;
  let sampled = valueOr4xx(await chat(2), baseUrl, "a chat request with n = 2 and logprobs");
  if (sampled === null) {
    maxSamplesPerRequest = 1;
    missing.maxSamplesPerRequest = "refuses n > 1";
    const single = await chat(1);
    sampled = valueOr4xx(single, baseUrl, "a chat request with logprobs");
    if (sampled === null)
      throw new ProbeError(`endpoint ${baseUrl}: a one-token chat request fails: ${reasonOf(single)}`);
  }
  const choices = (sampled.value as { choices?: unknown })?.choices;
  if (!Array.isArray(choices) || choices.length === 0)
    throw new ProbeError(`endpoint ${baseUrl}: the chat answer holds no choices`);
  if (choices.length < 2 && maxSamplesPerRequest > 1) {
    maxSamplesPerRequest = 1;
    missing.maxSamplesPerRequest = "answers n = 2 with one choice";
  }
  const content = (choices[0] as { logprobs?: { content?: unknown } })?.logprobs?.content;
  const generationLogprobs = Array.isArray(content) && content.length > 0;
  if (!generationLogprobs) missing.generationLogprobs = "answers without logprobs.content";
  return { maxSamplesPerRequest, generationLogprobs };
}

/** prompt_logprobs, then where POST /tokenize with messages answers; null when scoring is not served. */
async function probeScoring(
  send: Send,
  baseUrl: string,
  model: string,
  missing: EndpointProbe["missing"],
): Promise<string | null> {
  const scored = await send({
    method: "post",
    path: "/chat/completions",
    key: "probe:prompt_logprobs",
    body: scoringBody(model, [...HELLO, { role: "assistant", content: "Hi" }]),
  });
  const value = valueOr4xx(scored, baseUrl, "a request with prompt_logprobs");
  let list = null;
  try {
    list = value === null ? null : parsePromptLogprobs(value.value, baseUrl);
  } catch {}
  if (list === null || list.length === 0) {
    missing.scoring =
      value === null
        ? `refuses prompt_logprobs (${reasonOf(scored)})`
        : "answers without prompt_logprobs (a llama.cpp- or Ollama-style server)";
    return null;
  }
  for (const url of tokenizeUrls(baseUrl)) {
    const answer = await send({
      method: "post",
      path: url,
      key: "probe:tokenize",
      body: { model, messages: HELLO, add_generation_prompt: true },
    });
    const tokenized = valueOr4xx(answer, baseUrl, `POST ${url}`);
    if (tokenized === null) continue;
    try {
      parseTokenizeAnswer(tokenized.value, url);
      return url;
    } catch {}
  }
  missing.scoring = "serves prompt_logprobs but no POST /tokenize with messages";
  return null;
}

/** One small PNG as an image_url part: images at all? */
async function probeImages(send: Send, baseUrl: string, model: string, missing: EndpointProbe["missing"]) {
  const image = { type: "image_url", image_url: { url: await tinyImage() } };
  const answer = await send({
    method: "post",
    path: "/chat/completions",
    key: "probe:image",
    body: { model, max_tokens: 1, messages: [{ role: "user", content: [image, { type: "text", text: "Hello" }] }] },
  });
  const ok = valueOr4xx(answer, baseUrl, "a request with an image") !== null;
  if (!ok) missing.maxImagesPerRequest = `refuses an image_url part (${reasonOf(answer)})`;
  return ok;
}

export async function probeEndpoint(send: Send, baseUrl: string, model: string): Promise<EndpointProbe> {
  const missing: EndpointProbe["missing"] = {};
  await checkModel(send, baseUrl, model);
  const sampling = await probeSampling(send, baseUrl, model, missing);
  const tokenizeUrl = await probeScoring(send, baseUrl, model, missing);
  const images = await probeImages(send, baseUrl, model, missing);
  return {
    baseUrl,
    capabilities: { ...sampling, scoring: tokenizeUrl !== null, maxImagesPerRequest: images ? 1 : 0 },
    missing,
    tokenizeUrl,
  };
}
