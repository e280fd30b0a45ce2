// A batch of token sequences held as their decoder KV caches, for searches that grow many
// sequences a token at a time and keep some of them for later (CSR's sentence-level search,
// src/models/token-search-driver.ts). Unlike generate()'s stepper (batching.ts), rows may be
// reordered and repeated at every step (beam search reorders its beams), a row's cache can be
// copied out as a KvState of its own, and a batch can be rebuilt from stored states, so that a
// prefix (the image included) is encoded once however often it is continued.
//
// Layout: rows are left-padded, every row's real tokens right-aligned in the cache's time axis
// (each step appends one token to every row, so they stay aligned). The key mask is false on
// padding, and position ids count real tokens only (0 .. length - 1), so a row's logits do not
// depend on the padding in front of it (batching.ts, positionIds).
//
// The caches are buffers with spare columns after the `columns` in use (layers.ts, LayerCache):
// a step writes its token into them in place, so that a step where every row stays in its slot
// (a group of one beam, the recipe's default) copies no past at all; a step that reorders rows
// gathers them once (indexSelect) into new buffers. Padding columns hold zeros (finite: a masked
// key's weight is exactly 0, and 0 * 0 stays 0), the spare ones are never read.
import { cat, keep, noGrad, ones, type Tensor, tensorFrom, tidy, zeros } from "../engine/index.js";
import { causalMask, leftPadBatch, paddedForward } from "./batching.js";
import { cacheLength } from "./layers.js";
import type { LayerCache, VLM } from "./vlm.js";

/** Spare columns fromStates() leaves for the steps to come (the buffers grow by half when full). */
const ROOM = 32;

/** One sequence's keys and values without padding: k, v (1, H, L, D) per layer, for L tokens. */
export interface KvState {
  caches: LayerCache[];
  length: number;
}

export function disposeKvState(state: KvState): void {
  for (const c of state.caches) {
    c.k.dispose();
    c.v.dispose();
  }
}

const index = (ids: readonly number[]) => tensorFrom(BigInt64Array.from(ids, BigInt), [ids.length]);

export class KvRows {
  #caches: LayerCache[];
  #keyMask: Tensor; // (B, T) bool
  #lengths: number[]; // real tokens per row
  #disposed = false;

  private constructor(caches: LayerCache[], keyMask: Tensor, lengths: number[]) {
    this.#caches = caches;
    this.#keyMask = keyMask;
    this.#lengths = lengths;
  }

  get size(): number {
    return this.#lengths.length;
  }

  /** Real tokens of each row. */
  get lengths(): readonly number[] {
    return this.#lengths;
  }

  /**
   * The prompts run in one padded forward pass (images encoded here, once); with `logits`, also
   * each row's next-token logits (B, V) (the caller disposes them).
   */
  static prefill(
    model: VLM,
    padId: number,
    prompts: number[][],
    images: (Float32Array | null)[],
  ): { rows: KvRows; logits: Tensor } {
    if (prompts.length === 0 || prompts.some((p) => p.length === 0))
      throw new RangeError("KvRows.prefill: needs at least one prompt, none of them empty");
    return noGrad(() =>
      tidy(() => {
        const batch = leftPadBatch(model, padId, prompts, images);
        const out = paddedForward(model, batch, { lastOnly: true });
        for (const c of out.caches) keep([c.k, c.v]);
        const rows = new KvRows(
          out.caches,
          keep(batch.keyMask),
          prompts.map((p) => p.length),
        );
        return { rows, logits: keep(out.logits.reshape([prompts.length, -1])) };
      }),
    );
  }

  /**
   * A batch of stored states, left-padded to the longest, with `room` spare columns (the states
   * stay the caller's: they are copied).
   */
  static fromStates(states: readonly KvState[], room = ROOM): KvRows {
    if (states.length === 0) throw new RangeError("KvRows.fromStates: needs at least one state");
    const T = Math.max(...states.map((s) => s.length));
    const layers = states[0].caches.length;
    return noGrad(() =>
      tidy(() => {
        const caches: LayerCache[] = [];
        for (let l = 0; l < layers; l++) {
          const [, H, , D] = states[0].caches[l].k.shape;
          const buffer = (part: "k" | "v") => {
            const b = zeros([states.length, H, T + room, D]); // (B, H, T + room, D)
            for (const [row, s] of states.entries())
              b.slice(0, row, row + 1)
                .slice(2, T - s.length, T)
                .assign(s.caches[l][part]);
            return keep(b);
          };
          caches.push({ k: buffer("k"), v: buffer("v"), length: T });
        }
        const mask = new Uint8Array(states.length * T);
        for (const [b, s] of states.entries()) mask.fill(1, b * T + T - s.length, (b + 1) * T);
        return new KvRows(
          caches,
          keep(tensorFrom(mask, [states.length, T])),
          states.map((s) => s.length),
        );
      }),
    );
  }

  /**
   * Reorders the rows (`order[i]` = the current row that becomes row i; repeats allowed, rows
   * left out are dropped), appends `tokens[i]` to row i, and returns the next-token logits
   * (B', V) after them (the caller disposes them).
   */
  step(model: VLM, order: readonly number[], tokens: readonly number[]): Tensor {
    if (order.length === 0 || order.length !== tokens.length)
      throw new RangeError(`KvRows.step: ${order.length} rows for ${tokens.length} tokens`);
    for (const r of order)
      if (!Number.isInteger(r) || r < 0 || r >= this.size)
        throw new RangeError(`KvRows.step: row ${r} outside the batch of ${this.size}`);
    const lengths = order.map((r) => this.#lengths[r]);
    const previous = { caches: this.#caches, keyMask: this.#keyMask };
    const r = noGrad(() =>
      tidy(() => {
        // Every row in place (a group of one beam continues from its own slot): no copy of the
        // caches, which would move O(rows x length) memory per step for nothing.
        const identity = order.length === this.size && order.every((r, i) => r === i);
        const rows = identity ? null : index(order);
        const pick = (t: Tensor) => (rows === null ? t : t.indexSelect(0, rows));
        const past = previous.caches.map((c) => ({ k: pick(c.k), v: pick(c.v), length: c.length }));
        const b = order.length;
        const mask = cat([pick(previous.keyMask), ones([b, 1], "bool")], 1);
        const out = model.decode({
          embeds: model.embed(tensorFrom(BigInt64Array.from(tokens, BigInt), [b, 1]), null),
          positions: tensorFrom(BigInt64Array.from(lengths, BigInt), [b, 1]),
          mask: causalMask(mask, 1),
          caches: past,
          // The previous caches are disposed below (a repeated row got its own copy from
          // indexSelect): the new tokens are written into their spare columns.
          appendInPlace: true,
          lastOnly: true,
        });
        for (const c of out.caches) keep([c.k, c.v]);
        return { logits: keep(out.logits.reshape([b, -1])), caches: out.caches, keyMask: keep(mask) };
      }),
    );
    this.#disposeCaches();
    this.#caches = r.caches;
    this.#keyMask = r.keyMask;
    this.#lengths = lengths.map((n) => n + 1);
    return r.logits;
  }

  /** A copy of row `row`'s cache without its padding: a state that outlives this batch. */
  snapshot(row: number): KvState {
    if (!Number.isInteger(row) || row < 0 || row >= this.size)
      throw new RangeError(`KvRows.snapshot: row ${row} outside the batch of ${this.size}`);
    const length = this.#lengths[row];
    const caches = noGrad(() =>
      this.#caches.map((c) => {
        const T = cacheLength(c);
        // clone(): a slice is a view that would keep the whole batch's storage alive.
        return tidy(() => ({
          k: keep(
            c.k
              .slice(0, row, row + 1)
              .slice(2, T - length, T)
              .clone(),
          ),
          v: keep(
            c.v
              .slice(0, row, row + 1)
              .slice(2, T - length, T)
              .clone(),
          ),
        }));
      }),
    );
    return { caches, length };
  }

  #disposeCaches(): void {
    for (const c of this.#caches) {
      c.k.dispose();
      c.v.dispose();
    }
    this.#keyMask.dispose();
  }

  /** Frees the batch; calling it again does nothing. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#disposeCaches();
  }
}
