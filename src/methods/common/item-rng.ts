// Per-item random streams of a method's stages: keyed by (seed, method, item id) only, so an
// item's draws depend neither on the chunking nor on the other items, and a resumed run that
// redoes an item draws the same. The key goes through the backends' request seeding
// (src/backends/seeds.ts), so a stream differs from every request's sampling seed.
import { requestSeed } from "../../backends/seeds.js";
import { mulberry32 } from "../../util/prng.js";

/** Uniform floats in [0, 1) for `itemId` of `method` (e.g. "stic"); `itemId` may carry a purpose prefix. */
export function itemRng(seedBase: number, method: string, itemId: string): () => number {
  return mulberry32(requestSeed(seedBase, `${method}-item:${itemId}`));
}
