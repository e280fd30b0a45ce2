// The OpenAI-compatible HTTP backend (DESIGN.md, Backends): vLLM, SGLang, llama.cpp, Ollama or
// `selfsynth serve` behind the VisionLanguageModel interface, through the `openai` npm client.
//
//   - Endpoints: several base URLs, each with its own concurrency limit; every attempt goes to
//     the least-loaded one (endpoint-pool.ts).
//   - Retries: our own policy (retry.ts; the client's are off, maxRetries: 0): exponential
//     backoff with full jitter, Retry-After honoured, on 429, 5xx, resets, timeouts and malformed
//     answers. A per-request deadline covers the whole exchange, body included (the client's own
//     timeout stops at the headers). A timed-out attempt is aborted before the retry, so an item
//     is answered once.
//   - Capabilities: probed once per endpoint (probe.ts); a call that needs what an endpoint
//     cannot do (scoring on llama.cpp or Ollama, log-probs, images, ...) throws
//     BackendCapabilityError naming the endpoint and the missing feature.
//   - Generation: images as data URIs at the `<image>` markers; n split over several requests
//     when a server takes fewer per request; the seed of request i is requestSeed(seed, id or i)
//     (seeds.ts), as in the embedded backend, so both return the same samples against `serve`.
//   - Scoring (vLLM's prompt_logprobs): the conversation with the answer as last message, scored
//     as a prompt; the answer's span found with POST /tokenize (the conversation with and
//     without the answer), summed over.
//   - Items that fail after the retry budget: generateSettled/scoreSettled report them one by
//     one ({ok: false, reason}); generate/score throw BackendRequestError naming the first.
import OpenAI, { APIError } from "openai";
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
} from "openai/resources/chat/completions";
import { type Endpoint, EndpointPool } from "./endpoint-pool.js";
import {
  BadRequestError,
  generationBody,
  parseChoices,
  parsePromptDecodedTokens,
  parsePromptLogprobs,
  parseTokenizeAnswer,
  scoreFromSpans,
  scoringBody,
  toChatMessages,
} from "./http-mapping.js";
import { type BackendNeeds, needChecks } from "./needs.js";
import { type CallSpec, type EndpointProbe, probeEndpoint, tokenizeUrls } from "./probe.js";
import {
  checkRetryPolicy,
  DEFAULT_RETRY_POLICY,
  MalformedResponseError,
  RequestTimeoutError,
  type RetryHooks,
  type RetryOutcome,
  type RetryPolicy,
  withRetry,
} from "./retry.js";
import { chunkSeed, requestKey, requestSeed } from "./seeds.js";
import { mapBounded, unwrapSettled } from "./settled.js";
import {
  type BackendCapabilities,
  BackendCapabilityError,
  type GeneratedSample,
  type GenerationParams,
  type GenerationRequest,
  type ScoreRequest,
  type ScoreResult,
  type Settled,
  type SettlingVisionLanguageModel,
} from "./types.js";

export interface HttpBackendOptions {
  /** OpenAI-compatible base URLs, e.g. http://host:8000/v1; requests are balanced over them. */
  baseUrls: string[];
  /** The model name the servers know (as in GET /v1/models). */
  model: string;
  /** Sent as a bearer token; "EMPTY" when not given (never taken from the environment). */
  apiKey?: string;
  /**
   * Requests in flight per endpoint (default 16): servers batch what arrives together (vLLM's
   * continuous batching, serve's batch window), so too few in flight leaves them idle.
   */
  concurrency?: number;
  /** Deadline of one attempt, answer body included (default 120 s). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Set to skip probing (all four fields) or to narrow what the probe found. */
  capabilities?: Partial<BackendCapabilities>;
  /** Called before each retry wait (logging). */
  onRetry?: RetryHooks["onRetry"];
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

type Client = OpenAI;

/** A call whose path may depend on the endpoint it lands on (/tokenize's place), parsed inside the attempt. */
interface Call<T> {
  method: "get" | "post";
  path: string | ((endpoint: Endpoint<Client>) => string);
  body?: Record<string, unknown>;
  key: string;
  parse: (answer: unknown) => T;
}

function checkParams(p: GenerationParams): void {
  const bad = (field: string, why: string) => new RangeError(`generation params.${field}: ${why}`);
  if (!Number.isInteger(p.n) || p.n < 1) throw bad("n", `${p.n} must be a positive integer`);
  if (!Number.isInteger(p.maxTokens) || p.maxTokens < 1)
    throw bad("maxTokens", `${p.maxTokens} must be a positive integer`);
  if (!(p.temperature >= 0)) throw bad("temperature", `${p.temperature} must be >= 0`);
  if (!(p.topP > 0 && p.topP <= 1)) throw bad("topP", `${p.topP} must be in (0, 1]`);
  if (!Number.isInteger(p.topK) || p.topK < 0) throw bad("topK", `${p.topK} must be a non-negative integer`);
  if (!Number.isSafeInteger(p.seed) || p.seed < 0) throw bad("seed", `${p.seed} must be a non-negative integer`);
}

/** Chunk sizes of n samples when a server takes at most max per request. */
function splitSamples(n: number, max: number): number[] {
  const sizes: number[] = [];
  for (let left = n; left > 0; left -= max) sizes.push(Math.min(left, max));
  return sizes;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** Requests in flight per endpoint unless the caller says otherwise. */
export const DEFAULT_CONCURRENCY = 16;

export class HttpBackend implements SettlingVisionLanguageModel {
  readonly name: string;
  readonly model: string;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly pool: EndpointPool<Client>;
  readonly #options: HttpBackendOptions;
  #probes: Promise<EndpointProbe[]> | null = null;
  #closed = false;

  constructor(options: HttpBackendOptions) {
    const { baseUrls, model } = options;
    if (!Array.isArray(baseUrls) || baseUrls.length === 0) throw new RangeError("http backend: no base URLs");
    for (const url of baseUrls) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new RangeError(`http backend: base URL ${JSON.stringify(url)} is not a URL`);
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
        throw new RangeError(`http backend: base URL ${url} is not http(s)`);
    }
    if (new Set(baseUrls).size !== baseUrls.length) throw new RangeError("http backend: a base URL is listed twice");
    if (typeof model !== "string" || model === "") throw new RangeError("http backend: no model name");
    this.#options = options;
    this.model = model;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs < 1)
      throw new RangeError(`http backend: timeoutMs ${this.timeoutMs} must be a positive integer`);
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    checkRetryPolicy(this.retry);
    const limit = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.pool = new EndpointPool(
      baseUrls.map((baseUrl) => ({
        baseUrl,
        limit,
        client: new OpenAI({
          baseURL: baseUrl.replace(/\/+$/, ""),
          apiKey: options.apiKey ?? "EMPTY",
          maxRetries: 0,
          timeout: this.timeoutMs,
          defaultHeaders: options.headers,
        }),
      })),
    );
    this.name = `http:${model}@${baseUrls.map((u) => new URL(u).host).join(",")}`;
  }

  // --- transport -----------------------------------------------------------------------------

  /** One attempt on one endpoint, bounded by the deadline; the answer parsed inside it. */
  async #attempt<T>(endpoint: Endpoint<Client>, call: Call<T>, attempt: number): Promise<T> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    const path = typeof call.path === "function" ? call.path(endpoint) : call.path;
    const options = {
      signal: controller.signal,
      timeout: this.timeoutMs,
      headers: { "x-selfsynth-request": call.key, "x-selfsynth-attempt": String(attempt) },
    };
    try {
      const client = endpoint.client;
      let answer: unknown;
      if (call.method === "get") answer = await client.get(path, options);
      else if (path === "/chat/completions")
        answer = await client.chat.completions.create(
          call.body as unknown as ChatCompletionCreateParamsNonStreaming,
          options,
        );
      else answer = await client.post(path, { ...options, body: call.body });
      if (!isObject(answer)) {
        const shown = typeof answer === "string" ? JSON.stringify(answer.slice(0, 80)) : typeof answer;
        throw new MalformedResponseError(`${endpoint.baseUrl} ${path}: the answer is not a JSON object (${shown})`);
      }
      return call.parse(answer);
    } catch (error) {
      if (timedOut)
        throw new RequestTimeoutError(
          `${endpoint.baseUrl} ${path} (request ${call.key}): no answer within ${this.timeoutMs} ms`,
        );
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A call with retries, each attempt on the least-loaded endpoint (or on `only`, for probes). */
  #send<T>(call: Call<T>, only?: Endpoint<Client>): Promise<RetryOutcome<T>> {
    return withRetry(
      ({ attempt }) =>
        only ? this.#attempt(only, call, attempt) : this.pool.run((e) => this.#attempt(e, call, attempt)),
      this.retry,
      { onRetry: this.#options.onRetry },
    );
  }

  // --- capabilities ----------------------------------------------------------------------------

  /** Each endpoint's probe, run once (again after a failed probe). */
  probes(): Promise<EndpointProbe[]> {
    if (this.#probes === null) {
      const given = this.#options.capabilities ?? {};
      const complete =
        given.maxSamplesPerRequest !== undefined &&
        given.generationLogprobs !== undefined &&
        given.scoring !== undefined &&
        given.maxImagesPerRequest !== undefined;
      this.#probes = Promise.all(
        this.pool.endpoints.map(async (endpoint): Promise<EndpointProbe> => {
          if (complete) {
            return {
              baseUrl: endpoint.baseUrl,
              capabilities: given as BackendCapabilities,
              missing: {},
              tokenizeUrl: tokenizeUrls(endpoint.baseUrl)[0],
            };
          }
          const send = (spec: CallSpec) => this.#send({ ...spec, parse: (a: unknown) => a }, endpoint);
          const probe = await probeEndpoint(send, endpoint.baseUrl, this.model);
          return { ...probe, capabilities: { ...probe.capabilities, ...given } };
        }),
      );
      this.#probes.catch(() => {
        this.#probes = null;
      });
    }
    return this.#probes;
  }

  /**
   * The model names the first endpoint lists (GET /models; [] for a server without the route),
   * with the backend's retries; a call that still fails throws naming the endpoint.
   */
  async servedModels(): Promise<string[]> {
    this.#checkOpen();
    const endpoint = this.pool.endpoints[0];
    const outcome = await this.#send(
      { method: "get", path: "/models", key: "models", parse: (a: unknown) => a },
      endpoint,
    );
    if (!outcome.ok) {
      const status = outcome.error instanceof APIError ? outcome.error.status : undefined;
      if (status === 404) return [];
      throw new Error(`endpoint ${endpoint.baseUrl}: GET /models failed: ${outcome.reason}`);
    }
    const data = (outcome.value as { data?: unknown })?.data;
    return Array.isArray(data)
      ? data.map((m) => (m as { id?: unknown })?.id).filter((id): id is string => typeof id === "string")
      : [];
  }

  /** What every endpoint can do (the least of them). */
  async capabilities(): Promise<BackendCapabilities> {
    const probes = await this.probes();
    return {
      maxSamplesPerRequest: Math.min(...probes.map((p) => p.capabilities.maxSamplesPerRequest)),
      generationLogprobs: probes.every((p) => p.capabilities.generationLogprobs),
      scoring: probes.every((p) => p.capabilities.scoring),
      maxImagesPerRequest: Math.min(...probes.map((p) => p.capabilities.maxImagesPerRequest)),
    };
  }

  /** Throws BackendCapabilityError naming each endpoint that lacks the feature, and why. */
  async #require(feature: keyof BackendCapabilities, ok: (c: BackendCapabilities) => boolean, what: string) {
    const lacking = (await this.probes()).filter((p) => !ok(p.capabilities));
    if (lacking.length === 0) return;
    const which = lacking.map((p) => `${p.baseUrl} (${p.missing[feature] ?? "configured off"})`).join("; ");
    const hint =
      feature === "scoring"
        ? ": teacher-forced scoring needs vLLM's prompt_logprobs and /tokenize (llama.cpp and Ollama cannot score given responses); use a vLLM server or the embedded backend for this step"
        : "";
    throw new BackendCapabilityError(`${what} is not served by endpoint ${which}${hint}`);
  }

  /**
   * Probes every endpoint now and throws unless all serve what a command will ask for, naming
   * each endpoint and what it lacks; called at start, so that a refused connection, a rejected
   * key, a model the server lacks or a missing feature stops a command before any work.
   */
  async requireServes(needs: BackendNeeds): Promise<void> {
    this.#checkOpen();
    await this.probes();
    for (const check of needChecks(needs)) await this.#require(check.feature, check.ok, check.what);
  }

  // --- generation ------------------------------------------------------------------------------

  async generateSettled(
    requests: GenerationRequest[],
    params: GenerationParams,
  ): Promise<Settled<GeneratedSample[]>[]> {
    this.#checkOpen();
    checkParams(params);
    if (params.logprobs) await this.#require("generationLogprobs", (c) => c.generationLogprobs, "per-token log-probs");
    const images = Math.max(0, ...requests.map((r) => r.images.length));
    if (images > 0)
      await this.#require(
        "maxImagesPerRequest",
        (c) => c.maxImagesPerRequest >= images,
        `${images} image(s) per request`,
      );
    const caps = await this.capabilities();
    return mapBounded(requests, this.#workers(), (request, i) => this.#generateOne(request, i, params, caps));
  }

  async #generateOne(
    request: GenerationRequest,
    index: number,
    params: GenerationParams,
    caps: BackendCapabilities,
  ): Promise<Settled<GeneratedSample[]>> {
    const key = requestKey(request, index);
    const where = `requests[${index}]${request.id === undefined ? "" : ` (${request.id})`}`;
    let messages: ChatCompletionMessageParam[];
    try {
      messages = toChatMessages(request.messages, request.images, where);
    } catch (error) {
      if (error instanceof BadRequestError) return { ok: false, reason: error.message, attempts: 0 };
      throw error;
    }
    const seed = requestSeed(params.seed, key);
    const sizes = splitSamples(params.n, caps.maxSamplesPerRequest);
    const outcomes = await Promise.all(
      sizes.map((size, c) =>
        this.#send({
          method: "post",
          path: "/chat/completions",
          key: sizes.length === 1 ? key : `${key}/${c}`,
          body: { ...generationBody(this.model, messages, request.assistantPrefix, params, size, chunkSeed(seed, c)) },
          parse: (answer) => parseChoices(answer, size, params.logprobs, where),
        }),
      ),
    );
    const attempts = Math.max(...outcomes.map((o) => o.attempts));
    const failed = outcomes.find((o) => !o.ok);
    if (failed !== undefined) return { ok: false, reason: failed.reason ?? "failed", attempts };
    return { ok: true, value: outcomes.flatMap((o) => o.value as GeneratedSample[]), attempts };
  }

  async generate(requests: GenerationRequest[], params: GenerationParams): Promise<GeneratedSample[][]> {
    return unwrapSettled(requests, await this.generateSettled(requests, params));
  }

  // --- scoring ---------------------------------------------------------------------------------

  async scoreSettled(requests: ScoreRequest[]): Promise<Settled<ScoreResult>[]> {
    this.#checkOpen();
    await this.#require("scoring", (c) => c.scoring, "teacher-forced scoring (prompt_logprobs)");
    const images = Math.max(0, ...requests.map((r) => r.images.length));
    if (images > 0)
      await this.#require(
        "maxImagesPerRequest",
        (c) => c.maxImagesPerRequest >= images,
        `${images} image(s) per request`,
      );
    const probes = await this.probes();
    const tokenizeUrl = new Map(probes.map((p, i) => [this.pool.endpoints[i], p.tokenizeUrl]));
    return mapBounded(requests, this.#workers(), (request, i) => this.#scoreOne(request, i, tokenizeUrl));
  }

  async #scoreOne(
    request: ScoreRequest,
    index: number,
    tokenizeUrl: Map<Endpoint<Client>, string | null>,
  ): Promise<Settled<ScoreResult>> {
    const key = requestKey(request, index);
    const where = `requests[${index}]${request.id === undefined ? "" : ` (${request.id})`}`;
    const { messages } = request;
    let full: ChatCompletionMessageParam[];
    let textOnly: ChatCompletionMessageParam[];
    try {
      if (messages.length < 2 || messages[messages.length - 1].role !== "assistant")
        throw new BadRequestError(`${where}.messages: must end with the assistant response to score`);
      full = toChatMessages(messages, request.images, where);
      textOnly = toChatMessages(messages, request.images, where, { withImages: false });
    } catch (error) {
      if (error instanceof BadRequestError) return { ok: false, reason: error.message, attempts: 0 };
      throw error;
    }
    const tokenize = (part: string, body: Record<string, unknown>) =>
      this.#send({
        method: "post",
        path: (e) => tokenizeUrl.get(e) ?? tokenizeUrls(e.baseUrl)[0],
        key: `${key}/${part}`,
        body: { model: this.model, ...body },
        parse: (answer) => parseTokenizeAnswer(answer, `${where} /tokenize`),
      });
    const [prompt, conversation, scored] = await Promise.all([
      tokenize("tokenize-prompt", {
        messages: textOnly.slice(0, -1),
        add_generation_prompt: true,
        add_special_tokens: false,
      }),
      tokenize("tokenize-full", {
        messages: textOnly,
        add_generation_prompt: false,
        continue_final_message: false,
        add_special_tokens: false,
      }),
      this.#send({
        method: "post",
        path: "/chat/completions",
        key,
        body: scoringBody(this.model, full),
        parse: (answer) => {
          const list = parsePromptLogprobs(answer, where);
          if (list === null) throw new MalformedResponseError(`${where}: the answer has no prompt_logprobs`);
          return { list, decoded: parsePromptDecodedTokens(answer) };
        },
      }),
    ]);
    const attempts = Math.max(prompt.attempts, conversation.attempts, scored.attempts);
    const failed = [prompt, conversation, scored].find((o) => !o.ok);
    if (failed !== undefined) return { ok: false, reason: failed.reason ?? "failed", attempts };
    try {
      const value = scoreFromSpans(
        prompt.value as number[],
        conversation.value as number[],
        scored.value?.list ?? [],
        where,
        scored.value?.decoded,
      );
      return { ok: true, value, attempts };
    } catch (error) {
      return { ok: false, reason: (error as Error).message, attempts };
    }
  }

  async score(requests: ScoreRequest[]): Promise<ScoreResult[]> {
    return unwrapSettled(requests, await this.scoreSettled(requests));
  }

  // --- the rest ----------------------------------------------------------------------------------

  /** Items in progress at once: enough to fill every endpoint's slots, few enough to bound memory. */
  #workers(): number {
    return 2 * this.pool.endpoints.reduce((sum, e) => sum + e.limit, 0);
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`${this.name}: closed`);
  }

  /** Attempts started and failed per endpoint. */
  stats(): { baseUrl: string; started: number; failed: number; inFlight: number }[] {
    return this.pool.endpoints.map((e) => ({
      baseUrl: e.baseUrl,
      started: e.started,
      failed: e.failed,
      inFlight: e.inFlight,
    }));
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
