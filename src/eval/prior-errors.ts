// Which errors the co-occurrence prior explains, read from evaluation records and the images'
// true objects: a base must not only err, it must err where the prior leads it (FINDINGS.md,
// issue "A base that sees"). An error is prior-driven when the object it wrongly affirms is the
// prior partner of an anchor the image holds (the fork named beside a plate).
//
//   POPE   of the false "yes" answers (FP), the share asked about such a partner;
//   CHAIR  of the hallucinated mentions on prior-breaking images (an anchor without its partner),
//          the share that are such a partner.
// (The share of descriptions cut by the token limit is CHAIR's own `truncated_share` metric.)
import type { EvalRecord } from "./types.js";

/** The world's co-occurrence pairs (config.priors.pairs); only the names matter here. */
export type PriorPairs = readonly { anchor: string; partner: string }[];

/** True when `object` is the prior partner of an anchor among `present`. */
export function isPriorPartner(object: string, present: readonly string[], pairs: PriorPairs): boolean {
  return pairs.some((p) => p.partner === object && present.includes(p.anchor));
}

export interface Share {
  /** Errors of the kind measured. */
  of: number;
  /** Those the prior explains. */
  prior: number;
  /** prior / of (0 when there is no error). */
  share: number;
}

const share = (prior: number, of: number): Share => ({ of, prior, share: of > 0 ? prior / of : 0 });

function objectsOf(objectsByImage: ReadonlyMap<string, readonly string[]>, record: EvalRecord): readonly string[] {
  const objects = objectsByImage.get(record.image_id);
  if (objects === undefined) throw new Error(`record ${record.item_id}: no scene truth for image ${record.image_id}`);
  return objects;
}

/** POPE: the false "yes" answers and how many are about a present anchor's partner. */
export function popeFalseYesPriorShare(
  records: readonly EvalRecord[],
  objectsByImage: ReadonlyMap<string, readonly string[]>,
  pairs: PriorPairs,
): Share {
  let of = 0;
  let prior = 0;
  for (const r of records) {
    if (r.verdict !== "FP") continue;
    of++;
    const asked = (r.ground_truth as { object: string }).object;
    if (isPriorPartner(asked, objectsOf(objectsByImage, r), pairs)) prior++;
  }
  return share(prior, of);
}

/** CHAIR: hallucinated mentions on the images in `onImages`, and how many are a present anchor's partner. */
export function chairHallucinationPriorShare(
  records: readonly EvalRecord[],
  onImages: ReadonlySet<string>,
  pairs: PriorPairs,
): Share {
  let of = 0;
  let prior = 0;
  for (const r of records) {
    if (!onImages.has(r.image_id)) continue;
    const present = (r.ground_truth as { objects: string[] }).objects;
    for (const mention of (r.verdict as { hallucinated: string[] }).hallucinated) {
      of++;
      if (isPriorPartner(mention, present, pairs)) prior++;
    }
  }
  return share(prior, of);
}
