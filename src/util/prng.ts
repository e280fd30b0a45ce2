// A small seeded PRNG shared by the modules that shuffle or sample without tensors (data order,
// benchmark construction, a stage's items, data mixes). The world has its own keyed streams on
// the same generator (world/rng.ts).

/** mulberry32: a fast PRNG with a 32-bit state; uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The first n of a seeded shuffle (Fisher-Yates), so a larger n extends a smaller one's picks. */
export function seededSubset<T>(items: readonly T[], n: number, seed: number): T[] {
  const order = items.slice();
  const rand = mulberry32(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, Math.min(n, order.length));
}
