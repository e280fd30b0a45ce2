// Diverse group beam search (Vijayakumar et al. 2016, arXiv 1610.02424) as Hugging Face
// transformers runs it (`num_beams`, `num_beam_groups`, `diversity_penalty`: group beam search
// with the Hamming diversity processor), over the next-token log-probs of one sequence's beams.
// This file is the bookkeeping only, pure and model-free: which beams continue with which token,
// which hypotheses are finished; token-search-driver.ts runs many searches batched on the model.
// CSR's released code proposes each next sentence this way (5 beams in 5 groups, 5 returned,
// penalty 3.0, the sentence's end token as eos; METHODS.md section 3).
//
// One step, t tokens generated so far, beams split into G groups of S = numBeams / G:
//   groups in turn; group g scores every (beam b of g, token v) as
//     beamScore[b] + logp[b][v] - diversityPenalty * (how often groups 0..g-1 chose v at this step)
//   (banned tokens -inf; at t = 0 only the group's first beam counts, as HF's initial beam
//   scores of -1e9 make it), takes the best max(2, 1 + ends) * S candidates, best first, and walks
//   them: a candidate ending in an end token becomes a finished hypothesis when its rank is below
//   S, any other candidate continues as a beam, until S beams continue.
//   A hypothesis's score is its summed beam score over its length (length penalty 1).
//   A group is done once it holds S hypotheses and its worst is at least the best candidate's
//   score over t + 1 (HF's is_done without early stopping).
// After maxNewTokens steps, every running beam of a group not done is a hypothesis too (finish
// "length"). The result: the hypotheses of every group, best score first, numReturn of them.
//
// Departures from HF, deliberate: the length a score is divided by counts the end token (HF's
// counts the tokens before it, which divides by zero when the end token comes first); ties among
// candidates go to the lower (beam, token) index and among hypotheses to the earlier group (HF
// leaves them to torch.topk's and Python's sort order). Scores include the diversity penalty
// (as HF's sequences_scores do); each hypothesis also keeps its raw log-probs, without it.

/** A finished sequence of a search. */
export interface Hypothesis {
  /** Generated ids, the end token included when it finished on one. */
  tokenIds: number[];
  /** The model's raw log-prob of each id (without the diversity penalty). */
  logprobs: number[];
  /** The search's own score: for beam search, the summed beam score / length. */
  score: number;
  finish: "end" | "length";
  /**
   * The slot whose log-probs produced the last token: the driver copies that row's cache (every
   * token before the last) as the hypothesis's state.
   */
  source: number;
  /** Unique within its search. */
  id: number;
}

/** One step's outcome for the driver. */
export interface SearchStep {
  /** Per slot, the slot it continues from and the token appended; null: the slot stops running. */
  next: ({ source: number; token: number } | null)[];
  /** Hypotheses kept this step (the driver copies their source rows' caches now). */
  finished: Hypothesis[];
  /** Hypotheses kept earlier and now pushed out by better ones (the driver frees their copies). */
  evicted: Hypothesis[];
  done: boolean;
}

/** A token-level search over `slots` rows: beam search, or independent samples (sampled-search.ts). */
export interface TokenSearch {
  readonly slots: number;
  /** `logprobs[s]`: slot s's raw next-token log-probs (V), null for a slot no longer running. */
  step(logprobs: readonly (Float32Array | null)[]): SearchStep;
  /** The returned hypotheses, best first (after the step that reported done). */
  results(): Hypothesis[];
}

export interface GroupBeamOptions {
  numBeams: number;
  numGroups: number;
  numReturn: number;
  diversityPenalty: number;
  maxNewTokens: number;
  /** Token ids that finish a hypothesis (CSR: the sentence's '.', and the end of the answer). */
  endIds: ReadonlySet<number>;
  /** Token ids never chosen (generation's banned tokens: pad, bos, image, roles). */
  bannedIds?: ReadonlySet<number>;
}

export function checkGroupBeamOptions(o: GroupBeamOptions): void {
  const bad = (why: string) => new RangeError(`group beam search: ${why}`);
  for (const f of ["numBeams", "numGroups", "numReturn", "maxNewTokens"] as const)
    if (!Number.isInteger(o[f]) || o[f] < 1) throw bad(`${f} ${o[f]} must be a positive integer`);
  if (o.numBeams % o.numGroups !== 0)
    throw bad(`numBeams ${o.numBeams} must be a multiple of numGroups ${o.numGroups}`);
  if (o.numReturn > o.numBeams) throw bad(`numReturn ${o.numReturn} must be at most numBeams ${o.numBeams}`);
  if (!(o.diversityPenalty >= 0 && Number.isFinite(o.diversityPenalty)))
    throw bad(`diversityPenalty ${o.diversityPenalty} must be a finite number >= 0`);
  if (o.endIds.size === 0) throw bad("endIds is empty: no hypothesis could finish before maxNewTokens");
}

interface Beam {
  tokenIds: number[];
  logprobs: number[];
  /** Summed (penalized) log-probs. */
  score: number;
}

interface Candidate {
  beam: number; // slot
  token: number;
  score: number;
}

export class GroupBeamSearch implements TokenSearch {
  readonly slots: number;
  readonly #o: GroupBeamOptions;
  readonly #size: number; // beams per group
  #beams: Beam[];
  readonly #hyps: Hypothesis[][];
  readonly #done: boolean[];
  #t = 0;
  #nextId = 0;

  constructor(options: GroupBeamOptions) {
    checkGroupBeamOptions(options);
    this.#o = options;
    this.slots = options.numBeams;
    this.#size = options.numBeams / options.numGroups;
    this.#beams = Array.from({ length: options.numBeams }, () => ({ tokenIds: [], logprobs: [], score: 0 }));
    this.#hyps = Array.from({ length: options.numGroups }, () => []);
    this.#done = new Array<boolean>(options.numGroups).fill(false);
  }

  step(logprobs: readonly (Float32Array | null)[]): SearchStep {
    if (this.#done.every(Boolean)) throw new Error("group beam search: step() after the search is done");
    const o = this.#o;
    const chosen = new Map<number, number>(); // token -> times chosen by earlier groups at this step
    const next: SearchStep["next"] = new Array(this.slots).fill(null);
    const nextBeams: Beam[] = [...this.#beams];
    const finished: Hypothesis[] = [];
    const evicted: Hypothesis[] = [];
    for (let g = 0; g < o.numGroups; g++) {
      if (this.#done[g]) continue;
      const first = g * this.#size;
      const candidates = this.#candidates(logprobs, first, chosen);
      let filled = 0;
      for (const [rank, c] of candidates.entries()) {
        const beam = this.#beams[c.beam];
        const extended = {
          tokenIds: [...beam.tokenIds, c.token],
          logprobs: [...beam.logprobs, (logprobs[c.beam] as Float32Array)[c.token]],
          score: c.score,
        };
        if (o.endIds.has(c.token)) {
          if (rank >= this.#size) continue;
          this.#add(g, extended, "end", c.beam, finished, evicted);
        } else {
          const slot = first + filled;
          next[slot] = { source: c.beam, token: c.token };
          nextBeams[slot] = extended;
          filled++;
          if (filled === this.#size) break;
        }
      }
      if (filled < this.#size)
        throw new Error(`group beam search: group ${g} found ${filled} of ${this.#size} beams to continue`);
      for (let s = first; s < first + this.#size; s++) {
        const token = (next[s] as { token: number }).token;
        chosen.set(token, (chosen.get(token) ?? 0) + 1);
      }
      this.#done[g] = this.#isDone(g, candidates[0].score / (this.#t + 1));
    }
    this.#t++;
    this.#beams = nextBeams;
    if (this.#t >= o.maxNewTokens) this.#finishAtLength(next, finished, evicted);
    for (let g = 0; g < o.numGroups; g++)
      if (this.#done[g]) for (let s = g * this.#size; s < (g + 1) * this.#size; s++) next[s] = null;
    return { next, finished, evicted, done: this.#done.every(Boolean) };
  }

  /** The group's best candidates, best first; ties to the lower (slot, token). */
  #candidates(logprobs: readonly (Float32Array | null)[], first: number, chosen: Map<number, number>): Candidate[] {
    const o = this.#o;
    const want = Math.max(2, 1 + o.endIds.size) * this.#size;
    // The best `want`, best first, kept sorted while the candidates stream by in (slot, token)
    // order: a candidate enters only above the worst kept (strictly, so that among equal scores
    // the earlier stays first), as a stable sort of them all would order them. O(V) per beam
    // where sorting every candidate was O(V log V) with an object each.
    const top: Candidate[] = [];
    // At t = 0 every beam of a group is the same empty sequence: only the first one proposes.
    const beams = this.#t === 0 ? 1 : this.#size;
    for (let b = first; b < first + beams; b++) {
      const lp = logprobs[b];
      if (lp === null || lp === undefined) throw new Error(`group beam search: no log-probs for running slot ${b}`);
      const base = this.#beams[b].score;
      for (let v = 0; v < lp.length; v++) {
        const score = base + lp[v] - o.diversityPenalty * (chosen.get(v) ?? 0);
        if (!(score > Number.NEGATIVE_INFINITY)) continue;
        if (top.length === want && !(score > top[want - 1].score)) continue;
        if (o.bannedIds?.has(v)) continue;
        let at = top.length;
        while (at > 0 && top[at - 1].score < score) at--;
        top.splice(at, 0, { beam: b, token: v, score });
        if (top.length > want) top.pop();
      }
    }
    return top;
  }

  /** HF's BeamHypotheses.add: keep the group's best `size`; the pushed-out one is evicted. */
  #add(g: number, beam: Beam, finish: Hypothesis["finish"], source: number, kept: Hypothesis[], evicted: Hypothesis[]) {
    const hyps = this.#hyps[g];
    const score = beam.score / beam.tokenIds.length;
    if (hyps.length >= this.#size && !(score > Math.min(...hyps.map((h) => h.score)))) return;
    const hyp: Hypothesis = { ...beam, score, finish, source, id: this.#nextId++ };
    hyps.push(hyp);
    kept.push(hyp);
    if (hyps.length > this.#size) {
      let worst = 0;
      hyps.forEach((h, i) => {
        if (h.score < hyps[worst].score) worst = i;
      });
      const [out] = hyps.splice(worst, 1);
      // A hypothesis added and pushed out in the same step never reaches the driver.
      const at = kept.indexOf(out);
      if (at >= 0) kept.splice(at, 1);
      else evicted.push(out);
    }
  }

  #isDone(g: number, bestAttainable: number): boolean {
    const hyps = this.#hyps[g];
    if (hyps.length < this.#size) return false;
    return Math.min(...hyps.map((h) => h.score)) >= bestAttainable;
  }

  /** After the last allowed step: the running beams of groups not done become hypotheses. */
  #finishAtLength(next: SearchStep["next"], kept: Hypothesis[], evicted: Hypothesis[]): void {
    for (let g = 0; g < this.#o.numGroups; g++) {
      if (this.#done[g]) continue;
      for (let s = g * this.#size; s < (g + 1) * this.#size; s++) {
        const from = next[s];
        if (from !== null) this.#add(g, this.#beams[s], "length", from.source, kept, evicted);
      }
      this.#done[g] = true;
    }
  }

  results(): Hypothesis[] {
    if (!this.#done.every(Boolean)) throw new Error("group beam search: results() before the search is done");
    // Stable: equal scores keep group order.
    return this.#hyps
      .flat()
      .sort((a, b) => b.score - a.score)
      .slice(0, this.#o.numReturn);
  }
}
