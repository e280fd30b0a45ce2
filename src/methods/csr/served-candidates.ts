// CSR's candidate generator over the backend interface (candidates.ts), for a model behind an
// OpenAI-compatible endpoint (vLLM, `selfsynth serve`, ...; src/backends/http.ts): a node's next
// sentences are `n` samples of its prompt with the answer so far as a continued assistant message
// (GenerationRequest.assistantPrefix, vLLM's `continue_final_message`), stopped at the stop mark,
// with their per-token log-probs. Every request carries its node whole (prompt and prefix), so
// nothing is kept between calls: release only forgets which node ids are still open.
//
// Proposal: sampling only. Diverse group beam search steps the decoder's beams, which the OpenAI
// API does not expose; a recipe asking for it over a served model is refused at the run's start
// (stages.ts).
//
// A sample becomes a candidate by how it stopped:
//   - on the stop mark (stopString, vLLM's `stop_reason`, is the mark): a `sentence`; the server
//     cuts the mark off the text, so it is put back;
//   - on the answer's end (stopString null): `end`, final;
//   - the server does not say which (no `stop_reason`: OpenAI, llama.cpp): a `sentence` with the
//     mark when it wrote text, else `end`. A path that really ended there learns it at its next
//     expansion, whose candidates are then only the end (the search finishes the path as it
//     stands): a request more, and a mark the model may not have written (a known oddity);
//   - max_tokens reached: `length`, not final (the path grows on, as in the embedded generator);
//   - the server refuses the node because its prompt and `maxSentenceTokens` overflow the context
//     (CONTEXT_FULL): one empty final candidate, `context`, so the search finishes the path as it
//     stands. (The embedded generator still grows a shorter last sentence in the room left.)
// The answer is the prefix and the sentence joined as BPO joins its continuations
// (common/continuation.ts): with a space between them unless the server's text brings its own, as
// vLLM's does and `selfsynth serve`'s does not. lmScore is the mean log-prob of the sample's
// tokens, the closing one included, as the embedded sampling proposal scores.
//
// Seeds: node N's samples are asked as request `csr-node:N` of a call with the run's seed, so the
// backend samples them with requestSeed(seed, "csr-node:N") (src/backends/seeds.ts), the number the
// embedded sampling proposal seeds node N with. When the backend takes fewer than `n` samples per
// request (llama.cpp: 1), chunk c of every node's samples is its own call, seeded chunkSeed(seed, c).
// Each node thus draws its own samples, and the same node and seed ask for the same ones again.
import { chunkSeed } from "../../backends/seeds.js";
import {
  BackendRequestError,
  type GeneratedSample,
  type GenerationParams,
  type GenerationRequest,
  type Settled,
  type SettlingVisionLanguageModel,
  type VisionLanguageModel,
} from "../../backends/types.js";
import { joinContinuation } from "../common/continuation.js";
import type { CandidateGenerator, CandidateSentence, ExpandRequest, Proposal, SamplingProposal } from "./candidates.js";

export interface ServedCandidateOptions {
  /** Sampling only (the module's header). */
  proposal: SamplingProposal;
  /** Most new tokens of one sentence (the request's max_tokens). */
  maxSentenceTokens: number;
  /** The stop string that ends a sentence (the released code: '.'). */
  stopMark: string;
  /** The run's seed; each node's requests are seeded from it and the node's id. */
  seed: number;
}

/**
 * A refusal that means the node's prompt and max_tokens overflow the model's context: vLLM's and
 * `selfsynth serve`'s 400 "maximum context length" (code context_length_exceeded), llama.cpp's
 * "exceeds the available context size", the embedded backend's "leave no room under
 * decoder.maxPositions". Read from the failure's reason: the backend interface carries no code.
 */
const CONTEXT_FULL =
  /maximum context length|context_length_exceeded|exceeds the available context size|leave no room under decoder\.maxPositions/i;

/** Sample counts per request when a backend takes at most `cap` per request. */
export function sampleChunks(n: number, cap: number): number[] {
  const sizes: number[] = [];
  for (let left = n; left > 0; left -= cap) sizes.push(Math.min(left, cap));
  return sizes;
}

/** The request key of a node (its samples' seed is derived from it). */
export const nodeKey = (node: string) => `csr-node:${node}`;

const settles = (m: VisionLanguageModel): m is SettlingVisionLanguageModel =>
  typeof (m as Partial<SettlingVisionLanguageModel>).generateSettled === "function";

export function checkServedOptions(o: { proposal: Proposal; maxSentenceTokens: number; stopMark: string }): void {
  if (o.proposal.kind !== "sampling")
    throw new RangeError(
      `csr served candidates: proposal.kind ${o.proposal.kind} needs the embedded model (it steps the decoder's beams); over a backend use proposal.kind sampling`,
    );
  if (!Number.isInteger(o.proposal.n) || o.proposal.n < 1)
    throw new RangeError(`csr served candidates: proposal n ${o.proposal.n} must be a positive integer`);
  if (!Number.isInteger(o.maxSentenceTokens) || o.maxSentenceTokens < 1)
    throw new RangeError(`csr served candidates: maxSentenceTokens ${o.maxSentenceTokens} must be a positive integer`);
  if (o.stopMark === "") throw new RangeError("csr served candidates: stopMark is empty");
}

export class ServedCandidateGenerator implements CandidateGenerator {
  readonly name: string;
  /** Nodes handed out and neither expanded nor released (bookkeeping only: nothing is held). */
  readonly #open = new Set<string>();

  constructor(
    readonly backend: VisionLanguageModel,
    readonly options: ServedCandidateOptions,
  ) {
    checkServedOptions(options);
    this.name = `served:${backend.name}`;
  }

  async expand(requests: readonly ExpandRequest[]): Promise<CandidateSentence[][]> {
    const seen = new Set<string>();
    for (const r of requests) {
      if (seen.has(r.node)) throw new Error(`csr candidates: node ${JSON.stringify(r.node)} requested twice`);
      if (r.prefix !== "" && !this.#open.has(r.node))
        throw new Error(`csr candidates: unknown node ${JSON.stringify(r.node)} (released, or never returned)`);
      seen.add(r.node);
    }
    if (requests.length === 0) return [];
    const { proposal, seed } = this.options;
    const sizes = sampleChunks(proposal.n, (await this.backend.capabilities()).maxSamplesPerRequest);
    const asked = requests.map((r) => this.#request(r));
    const chunks = await Promise.all(sizes.map((n, c) => this.#generate(asked, this.#params(n, chunkSeed(seed, c)))));
    this.release(requests.map((r) => r.node)); // expanded once: its children are the open nodes now
    const out = requests.map((r, i) => {
      const settled = chunks.map((chunk) => chunk[i]);
      const failed = settled.find((s) => !s.ok);
      if (failed !== undefined) {
        if (CONTEXT_FULL.test(failed.reason)) return [contextFull(r)];
        throw new BackendRequestError(asked[i].id, failed.reason);
      }
      const samples = settled.flatMap((s) => (s as { value: GeneratedSample[] }).value);
      if (samples.length !== proposal.n)
        throw new Error(
          `csr candidates: ${this.backend.name} gave ${samples.length} samples of node ${r.node}, not ${proposal.n}`,
        );
      return samples.map((s, j) => this.#candidate(r, `${r.node}.${j}`, s));
    });
    for (const c of out.flat()) if (!c.final) this.#open.add(c.node);
    return out;
  }

  #request(r: ExpandRequest): GenerationRequest {
    return {
      id: nodeKey(r.node),
      images: [r.prompt.image],
      messages: r.prompt.messages,
      // The root asks for a fresh answer (the template's generation prompt).
      ...(r.prefix === "" ? {} : { assistantPrefix: r.prefix }),
    };
  }

  #params(n: number, seed: number): GenerationParams {
    const { proposal, maxSentenceTokens, stopMark } = this.options;
    return {
      n,
      temperature: proposal.temperature,
      topP: proposal.topP,
      topK: 0,
      maxTokens: maxSentenceTokens,
      stop: [stopMark],
      seed,
      logprobs: true,
    };
  }

  /** Each request's samples, or why it failed (a backend that only throws fails the call). */
  async #generate(requests: GenerationRequest[], params: GenerationParams): Promise<Settled<GeneratedSample[]>[]> {
    if (settles(this.backend)) return this.backend.generateSettled(requests, params);
    const values = await this.backend.generate(requests, params);
    return values.map((value) => ({ ok: true, value, attempts: 1 }));
  }

  #candidate(r: ExpandRequest, node: string, s: GeneratedSample): CandidateSentence {
    const { stopMark } = this.options;
    if (s.logprobs === null || s.logprobs.length === 0)
      throw new Error(`csr candidates: ${this.backend.name} gave a sample of node ${r.node} without log-probs`);
    const onMark = s.stopString === undefined ? s.text.trim() !== "" : s.stopString === stopMark;
    const finish = s.finishReason === "length" ? "length" : onMark ? "sentence" : "end";
    const continuation = finish === "sentence" ? `${s.text}${stopMark}` : s.text;
    return {
      node,
      sentence: continuation.trim(),
      response: joinContinuation(r.prefix, continuation),
      logprobs: s.logprobs,
      lmScore: s.logprobs.reduce((a, b) => a + b, 0) / s.logprobs.length,
      finish,
      final: finish === "end",
    };
  }

  release(nodes: readonly string[]): void {
    for (const node of nodes) this.#open.delete(node);
  }

  /** Nodes handed out and still open (a test's check that the search releases them all). */
  get held(): number {
    return this.#open.size;
  }

  async close(): Promise<void> {
    this.#open.clear();
  }
}

/** The candidate that finishes a node whose context is full: no sentence, final. */
function contextFull(r: ExpandRequest): CandidateSentence {
  return {
    node: `${r.node}.0`,
    sentence: "",
    response: r.prefix,
    logprobs: [],
    lmScore: 0,
    finish: "context",
    final: true,
  };
}
