// The interfaces every method talks to (DESIGN.md, Backends). Implementations: the embedded
// backend (in-process models, src/backends/embedded.ts) and the OpenAI-compatible HTTP backend
// (vLLM, SGLang, llama.cpp, Ollama, or `selfsynth serve`; src/backends/http.ts).
import type { ChatImage } from "../images/chat-image.js";

/**
 * One conversation turn. An `<image>` marker in a user turn says where the request's next image
 * goes (the HTTP backend turns it into an image_url content part at that place).
 */
export interface ChatTurn {
  role: "user" | "assistant";
  content: string;
}

export interface GenerationRequest {
  /** Caller's id, carried into errors and failure records. */
  id?: string;
  /** The images for the `<image>` markers, in order. */
  images: ChatImage[];
  /** Ends with a user turn. */
  messages: ChatTurn[];
  /** Text the assistant's answer must start with; the sample continues it (CSR's sentence steps). */
  assistantPrefix?: string;
}

export interface GenerationParams {
  /** Samples per request. */
  n: number;
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** 0 = off. */
  topK: number;
  maxTokens: number;
  stop: string[];
  seed: number;
  /** Return the log-prob of each generated token. */
  logprobs: boolean;
}

export interface GeneratedSample {
  /** The continuation (without the assistantPrefix), cut before a stop string. */
  text: string;
  /** The generated tokens as the backend names them (ids as strings for the embedded model). */
  tokens: string[];
  /** Per-token log-probs under the model (before temperature/top-p/top-k), when asked for. */
  logprobs: number[] | null;
  finishReason: "stop" | "length";
  /**
   * The stop string the sample ended on (text cut before it), or null when it stopped otherwise
   * (the answer's end, or length); absent when the backend cannot say (an OpenAI-compatible
   * server without vLLM's `stop_reason`). Tells a stop string from the answer's end, which
   * finishReason "stop" covers both of.
   */
  stopString?: string | null;
}

/** A conversation whose last turn is the assistant response to score by teacher forcing. */
export interface ScoreRequest {
  id?: string;
  images: ChatImage[];
  messages: ChatTurn[];
}

export interface ScoreResult {
  /** The response's tokens (including the end-of-turn token when the template has one). */
  tokens: string[];
  logprobs: number[];
  /** Sum of logprobs. */
  total: number;
  /**
   * The text of each token, when the backend can say (the embedded model; over HTTP, when the
   * server sends vLLM's `decoded_token` for every token of the response, as vLLM and `selfsynth
   * serve` do). Lets a caller map tokens to characters (methods/common/mention-logprobs.ts).
   */
  pieces?: string[];
}

export interface BackendCapabilities {
  /** Largest n one request may ask for (1 on llama.cpp and Ollama). */
  maxSamplesPerRequest: number;
  /** Per-token log-probs of generated text. */
  generationLogprobs: boolean;
  /** Teacher-forced scoring of a given response (vLLM's prompt_logprobs). */
  scoring: boolean;
  /** Images per request (0 = text only). */
  maxImagesPerRequest: number;
}

export interface VisionLanguageModel {
  /** A short description for logs and manifests (e.g. "embedded:assets/base", "http:model@host"). */
  readonly name: string;
  capabilities(): Promise<BackendCapabilities>;
  /** One list of n samples per request, in request order. */
  generate(requests: GenerationRequest[], params: GenerationParams): Promise<GeneratedSample[][]>;
  /** One result per request, in order; throws BackendCapabilityError where scoring is not served. */
  score(requests: ScoreRequest[]): Promise<ScoreResult[]>;
  close(): Promise<void>;
}

export interface ImageTextPair {
  image: ChatImage;
  text: string;
}

/** Image-text relevance, 100·cos(image, text) as CSR uses it. */
export interface ImageTextScorer {
  readonly name: string;
  score(pairs: ImageTextPair[]): Promise<number[]>;
  close(): Promise<void>;
}

/** A method step asked a backend for something it cannot serve (e.g. scoring on llama.cpp). */
export class BackendCapabilityError extends Error {
  override name = "BackendCapabilityError";
}

/** A request that failed for good after retries; carries the request id and the reason. */
export class BackendRequestError extends Error {
  override name = "BackendRequestError";
  constructor(
    readonly requestId: string | undefined,
    readonly reason: string,
  ) {
    super(`request ${requestId ?? "(no id)"} failed: ${reason}`);
  }
}

/**
 * The outcome of one item of a batch that does not throw (generateSettled, scoreSettled): its
 * value, or why it failed for good after the retry budget, so that callers record it and retry
 * it on resume (src/backends/failures.ts) instead of dropping it.
 */
export type Settled<T> = { ok: true; value: T; attempts: number } | { ok: false; reason: string; attempts: number };

/** A backend whose batches can also settle item by item instead of throwing on the first failure. */
export interface SettlingVisionLanguageModel extends VisionLanguageModel {
  generateSettled(requests: GenerationRequest[], params: GenerationParams): Promise<Settled<GeneratedSample[]>[]>;
  scoreSettled(requests: ScoreRequest[]): Promise<Settled<ScoreResult>[]>;
}
