// Runs a batch of chat jobs through the embedded VLM. generate() applies one set of sampling
// parameters to all its requests, so a batch is split into groups with equal parameters, one
// generate() call each (a client's batch of requests shares them, so it stays one call).
//
// Seeds: every sampled request passes its seed to generate() as its own (GenerateRequest.seed),
// so that its samples are reproducible and equal to `generate([request], {seed})` whatever else
// arrived with it; a request without a seed gets a fresh random one. Greedy requests (temperature
// 0) do not depend on the seed. So requests batch whenever their other parameters agree.
import { randomInt } from "node:crypto";
import { type GenerateRequest, generate, type Sample } from "../models/generate.js";
import type { SamplingParams } from "../models/sampling.js";
import type { Tokenizer } from "../models/tokenizer.js";
import type { VLM } from "../models/vlm.js";
import { type PositionLogprobs, teacherForced } from "./logprobs.js";

export interface ChatJob {
  /** The prompt's ids exactly as the model sees them. */
  prompt: number[];
  image: Float32Array | null;
  /** What generate() gets; null when the prompt ends with a closed turn (no completion). */
  generation: GenerateRequest | null;
  sampling: SamplingParams;
  /** The client gave a seed. */
  seeded: boolean;
  /** Alternatives per generated token (0: the chosen token's log-prob only); null: no logprobs. */
  topLogprobs: number | null;
  /** vLLM's prompt_logprobs k; null: none. */
  promptLogprobs: number | null;
  /** True once the client has gone: the job is skipped. */
  cancelled(): boolean;
  /** Sees each generated token of sample 0 as it is drawn (incremental streaming). */
  onToken?: (tokenId: number, logprob: number) => void;
}

export interface ChatResult {
  samples: Sample[];
  /** Per sample, teacher-forced top alternatives per generated token (when topLogprobs > 0). */
  top: (PositionLogprobs[] | null)[];
  /** Positions 1.. of the prompt (when promptLogprobs is set). */
  prompt: PositionLogprobs[] | null;
}

export class CancelledError extends Error {
  override name = "CancelledError";
}

export interface RunnerStats {
  /** generate() calls, i.e. batched passes of the sampler. */
  generateCalls: number;
  /** Requests those calls served. */
  generatedRequests: number;
}

export class ModelRunner {
  readonly stats: RunnerStats = { generateCalls: 0, generatedRequests: 0 };

  constructor(
    readonly model: VLM,
    readonly tokenizer: Tokenizer,
  ) {}

  /** One result (or Error) per job, in order. */
  run(jobs: ChatJob[]): (ChatResult | Error)[] {
    const results: (ChatResult | Error)[] = jobs.map(() => new CancelledError("the client went away"));
    const samples = new Map<number, Sample[]>();
    const groups = new Map<string, number[]>();
    jobs.forEach((job, i) => {
      if (job.cancelled()) return;
      if (job.generation === null) {
        samples.set(i, emptySamples(job.sampling.n));
        return;
      }
      const key = this.#groupKey(job);
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    for (const members of groups.values()) {
      for (const [i, out] of this.#generateGroup(jobs, members)) {
        if (out instanceof Error) results[i] = out;
        else samples.set(i, out);
      }
    }
    for (const [i, s] of samples) {
      try {
        results[i] = this.#withLogprobs(jobs[i], s);
      } catch (error) {
        results[i] = error as Error;
      }
    }
    return results;
  }

  #groupKey(job: ChatJob): string {
    const s = job.sampling;
    return JSON.stringify([s.n, s.temperature, s.topP, s.topK, s.maxNewTokens, s.stop, s.includeStopStr]);
  }

  /**
   * Samples for each member; a failing group is retried one job at a time to isolate the bad one.
   * A retry draws with the same seeds and streams nothing: it reproduces the tokens a stream may
   * already hold, and the stream's writer adds the rest from the final sample.
   */
  #generateGroup(jobs: ChatJob[], members: number[], stream = true): [number, Sample[] | Error][] {
    const first = jobs[members[0]];
    try {
      this.stats.generateCalls++;
      this.stats.generatedRequests += members.length;
      const out = generate(
        this.model,
        this.tokenizer,
        members.map((i) => ({ ...(jobs[i].generation as GenerateRequest), seed: this.#seedOf(jobs[i]) })),
        { ...first.sampling, seed: 0 },
        (request, sample, id, logprob) => {
          if (stream && sample === 0) jobs[members[request]].onToken?.(id, logprob);
        },
      );
      return members.map((i, k) => [i, out[k]]);
    } catch (error) {
      if (members.length === 1) return [[members[0], error as Error]];
      return members.flatMap((i) => this.#generateGroup(jobs, [i], false));
    }
  }

  readonly #seeds = new WeakMap<ChatJob, number>();

  /** The client's seed, else one random seed per job (kept, so that a retry draws the same). */
  #seedOf(job: ChatJob): number | undefined {
    if (job.sampling.temperature === 0) return undefined;
    if (job.seeded) return job.sampling.seed;
    let seed = this.#seeds.get(job);
    if (seed === undefined) {
      seed = randomInt(2 ** 47);
      this.#seeds.set(job, seed);
    }
    return seed;
  }

  #withLogprobs(job: ChatJob, samples: Sample[]): ChatResult {
    const { model, tokenizer } = this;
    const k = job.topLogprobs ?? 0;
    const top = samples.map((s) =>
      k > 0 && s.tokenIds.length > 0
        ? teacherForced(model, tokenizer, [...job.prompt, ...s.tokenIds], job.image, job.prompt.length, k)
        : null,
    );
    const prompt =
      job.promptLogprobs === null
        ? null
        : teacherForced(model, tokenizer, job.prompt, job.image, 1, job.promptLogprobs);
    return { samples, top, prompt };
  }
}

/** A prompt that ends with a closed turn: the model has nothing to add (see messages.ts). */
function emptySamples(n: number): Sample[] {
  return Array.from({ length: n }, () => ({
    text: "",
    tokenIds: [],
    logprobs: [],
    finishReason: "stop" as const,
    stopString: null,
  }));
}
