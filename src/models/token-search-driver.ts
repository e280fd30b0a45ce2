// Runs token-level searches (group-beam-search.ts, sampled-search.ts) on the embedded VLM, one
// search per start sequence, and returns each search's hypotheses. Two ways, same results:
//
//   expandCached: every start and every beam of every search in one batch (KvRows), stepped
//     together, one token per running slot per step. A start carries the KV state of its tokens
//     (all but the last, which is fed first), and every hypothesis comes back with the state of
//     its own sequence (all but its last token), so a sequence that is continued later (CSR's
//     next sentence) is never encoded again, image included. Starts without a state are
//     encoded once here.
//   expandNaive: one start at a time, its whole sequence encoded from scratch (image included)
//     and then stepped with a cache within the search: what CSR's released code does per node
//     (one HF generate() call each). The reference of expandCached and its speed baseline.
//
// The searches see the raw log-softmax of each slot's next-token logits; banned tokens are the
// searches' own business (their bannedIds).
import { noGrad, type Tensor, tidy } from "../engine/index.js";
import { GenerateError } from "./batching.js";
import type { Hypothesis, TokenSearch } from "./group-beam-search.js";
import { disposeKvState, KvRows, type KvState } from "./kv-rows.js";
import type { VLM } from "./vlm.js";

export interface SearchStart {
  /** The whole sequence so far: the chat prompt (image tokens included) and the answer's tokens. */
  tokens: number[];
  image: Float32Array | null;
  /** The cache of every token but the last (length tokens.length - 1); absent: encoded here. */
  state?: KvState | null;
}

/** A hypothesis with the cache of its start's tokens and its own tokens but the last (cached mode), else null. */
export interface Expansion extends Hypothesis {
  state: KvState | null;
}

/** Makes start i's search; `room` is how many tokens the model's context still takes after the start. */
export type MakeSearch = (start: number, room: number) => TokenSearch;

function roomOf(model: VLM, starts: readonly SearchStart[]): number[] {
  return starts.map((s, i) => {
    if (s.tokens.length < 2) throw new GenerateError(`starts[${i}]: needs at least 2 tokens (a chat prompt)`);
    if (s.state && s.state.length !== s.tokens.length - 1)
      throw new GenerateError(
        `starts[${i}].state: holds ${s.state.length} tokens, the start's tokens but the last are ${s.tokens.length - 1}`,
      );
    const room = model.config.decoder.maxPositions - s.tokens.length;
    if (room < 1)
      throw new GenerateError(
        `starts[${i}]: ${s.tokens.length} tokens leave no room under decoder.maxPositions ${model.config.decoder.maxPositions}`,
      );
    return room;
  });
}

const logSoftmaxRows = (logits: Tensor): Float32Array => noGrad(() => tidy(() => logits.logSoftmax(-1).toFloat32()));

/**
 * Steps `searches` on `rows` from `logits` (row i = search i's start) until every one is done.
 * With keepStates, each returned hypothesis holds a copy of its row's cache. Disposes logits.
 */
function runSearches(
  model: VLM,
  rows: KvRows,
  logits: Tensor,
  searches: TokenSearch[],
  keepStates: boolean,
): Expansion[][] {
  const V = logits.size(1);
  const out: Expansion[][] = searches.map(() => []);
  const copies = searches.map(() => new Map<number, KvState>());
  let slotRow = searches.map((s, i) => new Array<number>(s.slots).fill(i));
  const running = new Set(searches.keys());
  let current: Tensor | null = logits;
  try {
    while (current !== null) {
      const lp = logSoftmaxRows(current);
      current.dispose();
      current = null;
      const order: number[] = [];
      const tokens: number[] = [];
      const nextSlotRow = slotRow.map((slots) => slots.map(() => -1));
      for (const i of [...running]) {
        const rowsLp = slotRow[i].map((r) => (r < 0 ? null : lp.subarray(r * V, (r + 1) * V)));
        const step = searches[i].step(rowsLp);
        for (const h of step.finished) if (keepStates) copies[i].set(h.id, rows.snapshot(slotRow[i][h.source]));
        for (const h of step.evicted) {
          const copy = copies[i].get(h.id);
          if (copy) disposeKvState(copy);
          copies[i].delete(h.id);
        }
        if (step.done) {
          running.delete(i);
          out[i] = searches[i].results().map((h) => ({ ...h, state: copies[i].get(h.id) ?? null }));
          for (const h of out[i]) copies[i].delete(h.id);
          for (const copy of copies[i].values()) disposeKvState(copy); // finished but not returned
          copies[i].clear();
          continue;
        }
        step.next.forEach((n, s) => {
          if (n === null) return;
          nextSlotRow[i][s] = order.length;
          order.push(slotRow[i][n.source]);
          tokens.push(n.token);
        });
      }
      slotRow = nextSlotRow;
      if (order.length > 0) current = rows.step(model, order, tokens);
    }
  } catch (error) {
    current?.dispose();
    for (const c of copies) for (const copy of c.values()) disposeKvState(copy);
    for (const e of out.flat()) if (e.state) disposeKvState(e.state);
    throw error;
  }
  return out;
}

/**
 * Every start's search in one batch over KV caches; each hypothesis comes with its state. The
 * starts' own states stay the caller's.
 */
export function expandCached(
  model: VLM,
  padId: number,
  starts: readonly SearchStart[],
  makeSearch: MakeSearch,
): Expansion[][] {
  if (starts.length === 0) return [];
  const rooms = roomOf(model, starts);
  const fresh = starts.flatMap((s, i) => (s.state ? [] : [i]));
  const made = new Map<number, KvState>();
  let rows: KvRows | null = null;
  try {
    if (fresh.length > 0) {
      // Every token but the last, encoded once (images included); the last is fed below with the others.
      const pre = KvRows.prefill(
        model,
        padId,
        fresh.map((i) => starts[i].tokens.slice(0, -1)),
        fresh.map((i) => starts[i].image),
      );
      pre.logits.dispose();
      for (const [r, i] of fresh.entries()) made.set(i, pre.rows.snapshot(r));
      pre.rows.dispose();
    }
    rows = KvRows.fromStates(starts.map((s, i) => s.state ?? (made.get(i) as KvState)));
    const logits = rows.step(
      model,
      starts.map((_, i) => i),
      starts.map((s) => s.tokens[s.tokens.length - 1]),
    );
    return runSearches(
      model,
      rows,
      logits,
      starts.map((_, i) => makeSearch(i, rooms[i])),
      true,
    );
  } finally {
    rows?.dispose();
    for (const state of made.values()) disposeKvState(state);
  }
}

/** The reference: one start at a time, its whole sequence encoded anew; no states returned. */
export function expandNaive(
  model: VLM,
  padId: number,
  starts: readonly SearchStart[],
  makeSearch: MakeSearch,
): Expansion[][] {
  const rooms = roomOf(model, starts);
  return starts.map((s, i) => {
    const { rows, logits } = KvRows.prefill(model, padId, [s.tokens], [s.image]);
    try {
      return runSearches(model, rows, logits, [makeSearch(i, rooms[i])], false)[0];
    } finally {
      rows.dispose();
    }
  });
}
