// A method's records mixed with general instruction data, so that training on the method's
// narrow data does not wear away what the model could do before (METHODS.md: STS trains on its
// answers mixed 1:1 with general instruction data; COMPACT adds a random 5% of LLaVA-665K to its
// 32k compositional samples, about as many again). The general records are a seeded sample
// without replacement (seededSubset: a larger share extends a smaller one's picks). The mix keeps
// the method's records first, then the drawn ones: the trainer shuffles every epoch anyway, and
// the file stays easy to audit.
import { seededSubset } from "../../util/prng.js";

/** The general records that make `share` of a mix beside `method` records, to the nearest whole record. */
export function generalCount(method: number, share: number): number {
  if (!(share >= 0 && share < 1)) throw new RangeError(`mix: share ${share} must be in [0, 1)`);
  return Math.round((method * share) / (1 - share));
}

/**
 * `method` plus a seeded draw of `general` making `share` of the result (0.5: one general record
 * per method record). Refuses a draw larger than `general`, and an id found on both sides (one
 * dataset file cannot hold it twice).
 */
export function mixRecords<T extends { id: string }>(
  method: readonly T[],
  general: readonly T[],
  options: { share: number; seed: number },
): T[] {
  const wanted = generalCount(method.length, options.share);
  if (wanted > general.length) {
    throw new RangeError(
      `mix: a share of ${options.share} beside ${method.length} method records needs ${wanted} general records; ${general.length} given`,
    );
  }
  const drawn = seededSubset(general, wanted, options.seed);
  const ids = new Set(method.map((r) => r.id));
  const clash = drawn.find((r) => ids.has(r.id));
  if (clash !== undefined) throw new Error(`mix: id '${clash.id}' is both a method record and a general one`);
  return [...method, ...drawn];
}
