// The embedded backend: the in-process VLM (models/vlm.ts) and CLIP-style scorer (models/clip.ts)
// behind the backend interfaces.
//
// Images arrive encoded (ChatImage) and are decoded and resized exactly as `selfsynth serve`
// does (src/images: decodeImage, toModelInput), so the two backends see the same pixels.
// Each request carries its own seed, requestSeed(params.seed, id or index) (seeds.ts), which
// generate() honours per request inside a batch: a request's samples do not depend on which
// other requests share the call (what a resumed run needs), and equal what `serve` returns for
// one HTTP request with that seed. Requests run batched, generateBatchSize at a time.
import type { ChatImage } from "../images/chat-image.js";
import { decodeImage, toModelInput } from "../images/codec.js";
import type { ClipScorer } from "../models/clip.js";
import { loadClipScorer } from "../models/clip-io.js";
import { type GenerateRequest, generate, type Sample } from "../models/generate.js";
import { type ScoredResponse, type ScoreItem, scoreResponses } from "../models/score.js";
import type { Tokenizer } from "../models/tokenizer.js";
import type { VLM } from "../models/vlm.js";
import { loadVLM } from "../models/vlm-io.js";
import { requestKey, requestSeed } from "./seeds.js";
import { unwrapSettled } from "./settled.js";
import {
  type BackendCapabilities,
  BackendCapabilityError,
  type GeneratedSample,
  type GenerationParams,
  type GenerationRequest,
  type ImageTextPair,
  type ImageTextScorer,
  type ScoreRequest,
  type ScoreResult,
  type Settled,
  type SettlingVisionLanguageModel,
} from "./types.js";

/** The model's (3, S, S) input from an encoded image. */
export async function imageInput(image: ChatImage, size: number, source: string): Promise<Float32Array> {
  return toModelInput(await decodeImage(image.bytes, { source }), size, source);
}

const message = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

export interface EmbeddedBackendOptions {
  /** For logs and manifests (default "embedded"). */
  name?: string;
  /** Items per teacher-forcing batch (default 16: larger ones pad more and run slower, `npm run bench -- batch`). */
  scoreBatchSize?: number;
  /** Requests per batch of generate() (default 64: 1.7x the throughput of 16, `npm run bench -- batch`). */
  generateBatchSize?: number;
  /** Dispose the model on close() (default true). */
  ownsModel?: boolean;
}

/** A backend's generation parameters as the embedded sampler's options (the stop string itself
 * is never returned, as OpenAI-compatible servers do). */
export function samplingOptions(params: GenerationParams) {
  return {
    n: params.n,
    temperature: params.temperature,
    topP: params.topP,
    topK: params.topK,
    maxNewTokens: params.maxTokens,
    stop: params.stop,
    includeStopStr: false,
  };
}

export class EmbeddedBackend implements SettlingVisionLanguageModel {
  readonly name: string;
  readonly #scoreBatchSize: number;
  readonly #generateBatchSize: number;
  readonly #ownsModel: boolean;
  #closed = false;

  constructor(
    readonly model: VLM,
    readonly tokenizer: Tokenizer,
    options: EmbeddedBackendOptions = {},
  ) {
    this.name = options.name ?? "embedded";
    this.#scoreBatchSize = options.scoreBatchSize ?? 16;
    this.#generateBatchSize = options.generateBatchSize ?? 64;
    this.#ownsModel = options.ownsModel ?? true;
  }

  /** Loads a checkpoint saved by saveVLM. */
  static load(modelDir: string, options: EmbeddedBackendOptions = {}): EmbeddedBackend {
    const { model, tokenizer } = loadVLM(modelDir);
    return new EmbeddedBackend(model, tokenizer, { name: `embedded:${modelDir}`, ...options });
  }

  async capabilities(): Promise<BackendCapabilities> {
    return {
      maxSamplesPerRequest: Number.MAX_SAFE_INTEGER,
      generationLogprobs: true,
      scoring: true,
      maxImagesPerRequest: 1,
    };
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`${this.name}: closed`);
  }

  /** The request's image as model input, or null; more than one is a capability error. */
  async #image(images: ChatImage[], where: string): Promise<Float32Array | null> {
    if (images.length > 1)
      throw new BackendCapabilityError(
        `${this.name}: ${where} holds ${images.length} images; the embedded VLM takes 1`,
      );
    if (images.length === 0) return null;
    return imageInput(images[0], this.model.config.vision.imageSize, `${where}.images[0]`);
  }

  async generateSettled(
    requests: GenerationRequest[],
    params: GenerationParams,
  ): Promise<Settled<GeneratedSample[]>[]> {
    this.#checkOpen();
    const sampling = samplingOptions(params);
    const out = new Array<Settled<GeneratedSample[]>>(requests.length);
    const ready: { i: number; request: GenerateRequest }[] = [];
    for (const [i, request] of requests.entries()) {
      const where = `requests[${i}]${request.id === undefined ? "" : ` (${request.id})`}`;
      try {
        const image = await this.#image(request.images, where);
        const seed = params.temperature === 0 ? undefined : requestSeed(params.seed, requestKey(request, i));
        ready.push({
          i,
          request: { image, messages: request.messages, assistantPrefix: request.assistantPrefix, seed },
        });
      } catch (error) {
        if (error instanceof BackendCapabilityError) throw error;
        out[i] = { ok: false, reason: `${where}: ${message(error)}`, attempts: 1 };
      }
    }
    const run = (group: typeof ready) => {
      generate(
        this.model,
        this.tokenizer,
        group.map((g) => g.request),
        { ...sampling, seed: 0 }, // every sampled request carries its own seed
      ).forEach((samples, k) => {
        out[group[k].i] = { ok: true, value: samples.map((s) => toGenerated(s, params.logprobs)), attempts: 1 };
      });
    };
    const size = this.#generateBatchSize;
    const groups = Array.from({ length: Math.ceil(ready.length / size) }, (_, b) =>
      ready.slice(b * size, (b + 1) * size),
    );
    for (const group of groups) {
      try {
        run(group);
      } catch (error) {
        // One bad request fails its batch: run the batch's requests alone to find which.
        for (const g of group) {
          try {
            run([g]);
          } catch (e) {
            const where = `requests[${g.i}]${requests[g.i].id === undefined ? "" : ` (${requests[g.i].id})`}`;
            out[g.i] = { ok: false, reason: `${where}: ${message(group.length > 1 ? e : error)}`, attempts: 1 };
          }
        }
      }
    }
    return out;
  }

  async generate(requests: GenerationRequest[], params: GenerationParams): Promise<GeneratedSample[][]> {
    return unwrapSettled(requests, await this.generateSettled(requests, params));
  }

  async scoreSettled(requests: ScoreRequest[]): Promise<Settled<ScoreResult>[]> {
    this.#checkOpen();
    // Images first (per item: a bad image fails its item only).
    const items: (ScoreItem | string)[] = [];
    for (const [i, request] of requests.entries()) {
      const where = `requests[${i}]${request.id === undefined ? "" : ` (${request.id})`}`;
      try {
        items.push({ image: await this.#image(request.images, where), messages: request.messages });
      } catch (error) {
        if (error instanceof BackendCapabilityError) throw error;
        items.push(`${where}: ${message(error)}`);
      }
    }
    const good = items.flatMap((item, i) => (typeof item === "string" ? [] : [{ item, i }]));
    const scored = new Map<number, ScoredResponse | string>();
    const score = (batch: { item: ScoreItem; i: number }[]) =>
      scoreResponses(
        this.model,
        this.tokenizer,
        batch.map((b) => b.item),
        { batchSize: this.#scoreBatchSize },
      );
    try {
      for (const [k, r] of score(good).entries()) scored.set(good[k].i, r);
    } catch {
      // One bad item fails the whole batch: score item by item to find which.
      for (const g of good) {
        try {
          scored.set(g.i, score([g])[0]);
        } catch (error) {
          scored.set(g.i, `requests[${g.i}]: ${message(error)}`);
        }
      }
    }
    return items.map((item, i): Settled<ScoreResult> => {
      const r = typeof item === "string" ? item : (scored.get(i) as ScoredResponse | string);
      if (typeof r === "string") return { ok: false, reason: r, attempts: 1 };
      return {
        ok: true,
        value: {
          tokens: r.tokenIds.map(String),
          logprobs: r.logprobs,
          total: r.logprobs.reduce((a, b) => a + b, 0),
          pieces: r.tokenIds.map((id) => this.tokenizer.tokenOf(id)),
        },
        attempts: 1,
      };
    });
  }

  async score(requests: ScoreRequest[]): Promise<ScoreResult[]> {
    return unwrapSettled(requests, await this.scoreSettled(requests));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsModel) this.model.dispose();
  }
}

function toGenerated(s: Sample, logprobs: boolean): GeneratedSample {
  return {
    text: s.text,
    tokens: s.tokenIds.map(String),
    logprobs: logprobs ? s.logprobs : null,
    finishReason: s.finishReason,
    stopString: s.stopString,
  };
}

/** CLIP-style image-text relevance (100·cos) from the embedded scorer. */
export class EmbeddedImageTextScorer implements ImageTextScorer {
  readonly name: string;
  #closed = false;

  constructor(
    readonly scorer: ClipScorer,
    name = "embedded-clip",
  ) {
    this.name = name;
  }

  static load(dir: string): EmbeddedImageTextScorer {
    return new EmbeddedImageTextScorer(loadClipScorer(dir), `embedded-clip:${dir}`);
  }

  async score(pairs: ImageTextPair[]): Promise<number[]> {
    if (this.#closed) throw new Error(`${this.name}: closed`);
    const size = this.scorer.model.config.vision.imageSize;
    // One decode per image object: pairs sharing one (CSR's sentences of a node) share its
    // pixels, which the scorer then encodes once.
    const decoded = new Map<ImageTextPair["image"], Promise<Float32Array>>();
    const inputs = await Promise.all(
      pairs.map(async (p, i) => {
        let image = decoded.get(p.image);
        if (image === undefined) {
          image = imageInput(p.image, size, `pairs[${i}].image`);
          decoded.set(p.image, image);
        }
        return { image: await image, text: p.text };
      }),
    );
    return this.scorer.score(inputs);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.scorer.model.dispose();
  }
}
