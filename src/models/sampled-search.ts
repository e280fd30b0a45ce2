// Plain sampling as a TokenSearch (group-beam-search.ts): `n` independent samples of one
// sequence, each drawn token by token at a temperature (and nucleus top-p) from the model's
// next-token log-probs, each finishing on an end token or after maxNewTokens. CSR's option
// `proposal: sampling`, for servers that give `n` samples but no beam search.
//
// The draws use one seeded stream per sample (mulberry32), so a sample does not depend on what
// else runs in the batch. Temperature 0 is greedy. This sampler runs in JS over one row of
// log-probs at a time (V floats), not through the engine's multinomial: the search's rows are
// already on the JS side for its bookkeeping, and a draw costs O(V log V), nothing next to a
// decoder step.
import { mulberry32 } from "../util/prng.js";
import type { Hypothesis, SearchStep, TokenSearch } from "./group-beam-search.js";

export interface SampledSearchOptions {
  n: number;
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 = off. */
  topP: number;
  maxNewTokens: number;
  endIds: ReadonlySet<number>;
  bannedIds?: ReadonlySet<number>;
  /** One stream per sample is derived from it. */
  seed: number;
}

export function checkSampledOptions(o: SampledSearchOptions): void {
  const bad = (why: string) => new RangeError(`sampled search: ${why}`);
  if (!Number.isInteger(o.n) || o.n < 1) throw bad(`n ${o.n} must be a positive integer`);
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1)
    throw bad(`maxNewTokens ${o.maxNewTokens} must be a positive integer`);
  if (!(o.temperature >= 0 && Number.isFinite(o.temperature))) throw bad(`temperature ${o.temperature} must be >= 0`);
  if (!(o.topP > 0 && o.topP <= 1)) throw bad(`topP ${o.topP} must be in (0, 1]`);
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw bad(`seed ${o.seed} must be a non-negative integer`);
}

/** The token drawn from `logprobs` (V) at `temperature` within the top-p mass, with `u` uniform in [0, 1). */
export function drawToken(
  logprobs: Float32Array,
  temperature: number,
  topP: number,
  u: number,
  banned?: ReadonlySet<number>,
): number {
  const ids: number[] = [];
  for (let v = 0; v < logprobs.length; v++) if (!banned?.has(v) && logprobs[v] > Number.NEGATIVE_INFINITY) ids.push(v);
  if (ids.length === 0) throw new RangeError("sampled search: every token is banned or impossible");
  ids.sort((a, b) => logprobs[b] - logprobs[a] || a - b); // most likely first, ties to the lower id
  if (temperature === 0) return ids[0];
  const top = logprobs[ids[0]];
  const weights = ids.map((v) => Math.exp((logprobs[v] - top) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  // Keep a token while the mass before it is below topP (the first always stays), as sampling.ts cuts.
  let kept = 0;
  let before = 0;
  while (kept < ids.length && (kept === 0 || before / total < topP)) before += weights[kept++];
  let x = u * before;
  for (let i = 0; i < kept; i++) {
    x -= weights[i];
    if (x < 0) return ids[i];
  }
  return ids[kept - 1];
}

export class SampledSearch implements TokenSearch {
  readonly slots: number;
  readonly #o: SampledSearchOptions;
  readonly #rngs: (() => number)[];
  readonly #running: { tokenIds: number[]; logprobs: number[] }[];
  readonly #results: Hypothesis[] = [];
  #t = 0;

  constructor(options: SampledSearchOptions) {
    checkSampledOptions(options);
    this.#o = options;
    this.slots = options.n;
    this.#rngs = Array.from({ length: options.n }, (_, i) =>
      mulberry32((options.seed + Math.imul(i + 1, 0x9e3779b1)) >>> 0),
    );
    this.#running = Array.from({ length: options.n }, () => ({ tokenIds: [], logprobs: [] }));
  }

  step(logprobs: readonly (Float32Array | null)[]): SearchStep {
    const o = this.#o;
    const next: SearchStep["next"] = new Array(this.slots).fill(null);
    const finished: Hypothesis[] = [];
    this.#t++;
    for (let s = 0; s < this.slots; s++) {
      const lp = logprobs[s];
      if (lp === null || lp === undefined) continue; // finished earlier
      const token = drawToken(lp, o.temperature, o.topP, this.#rngs[s](), o.bannedIds);
      const row = this.#running[s];
      row.tokenIds.push(token);
      row.logprobs.push(lp[token]);
      const end = o.endIds.has(token);
      if (end || this.#t >= o.maxNewTokens) {
        const mean = row.logprobs.reduce((a, b) => a + b, 0) / row.logprobs.length;
        const hyp: Hypothesis = { ...row, score: mean, finish: end ? "end" : "length", source: s, id: s };
        finished.push(hyp);
        this.#results.push(hyp);
      } else {
        next[s] = { source: s, token };
      }
    }
    return { next, finished, evicted: [], done: next.every((n) => n === null) };
  }

  /** Every sample, in slot order (samples are not ranked). */
  results(): Hypothesis[] {
    if (this.#results.length < this.slots) throw new Error("sampled search: results() before every sample finished");
    return [...this.#results].sort((a, b) => a.source - b.source);
  }
}
