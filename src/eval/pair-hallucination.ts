// How much each side of a preference pair hallucinates, against a world's exact scene graphs:
// CHAIR's object mentions of `chosen` and `rejected` checked against the objects of the pair's
// source image, and how many hallucinated mentions are the prior's partner of an anchor the
// image holds. A preference method can only teach what its pairs hold; this measures it
// (scripts/pair-hallucination.ts) and lets a diagnostic keep only the pairs whose chosen side
// is the better one (STIC's `oracleFilter`, which uses ground truth and is no method).
import { z } from "zod";
import type { WorldConfig } from "../world/config.js";
import { readWorldSplit } from "../world/read-split.js";
import { type ChairVerdict, chairVerdict, descriptionLength, extractObjectMentions } from "./chair.js";
import { isPriorPartner } from "./prior-errors.js";
import type { SynonymTable } from "./text.js";

export interface SideScore {
  mentions: string[];
  words: number;
  verdict: ChairVerdict;
  /** Hallucinated mentions that are the partner of an anchor the image holds. */
  priorDriven: number;
}

export interface PairScore {
  chosen: SideScore;
  rejected: SideScore;
  /** The source image's objects (canonical words, no repeats). */
  objects: string[];
}

/** The pool's truth as the pair scorer reads it: a scene's objects; creatures carry no object list. */
const PoolTruthSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("scene"), id: z.string(), objects: z.array(z.string()) }),
  z.object({ kind: z.literal("creature") }),
]);

/** The objects of every scene of a world's pool (`pool-truth.jsonl`), by record id. */
export function readPoolTruth(worldDir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const record of readWorldSplit(worldDir, "pool-truth", PoolTruthSchema)) {
    if (record.kind === "scene") out.set(record.id, [...new Set(record.objects)]);
  }
  return out;
}

export class PairScorer {
  constructor(
    private readonly table: SynonymTable,
    private readonly priorPairs: WorldConfig["priors"]["pairs"],
  ) {}

  side(text: string, objects: readonly string[]): SideScore {
    const mentions = extractObjectMentions(text, this.table);
    const verdict = chairVerdict(mentions, { objects: [...objects] });
    const priorDriven = verdict.hallucinated.filter((m) => isPriorPartner(m, objects, this.priorPairs)).length;
    return { mentions, words: descriptionLength(text), verdict, priorDriven };
  }

  pair(chosen: string, rejected: string, objects: readonly string[]): PairScore {
    return { chosen: this.side(chosen, objects), rejected: this.side(rejected, objects), objects: [...objects] };
  }
}

/** Whether the chosen side names fewer absent objects than the rejected side. */
export const chosenHallucinatesLess = (score: PairScore): boolean =>
  score.chosen.verdict.hallucinated.length < score.rejected.verdict.hallucinated.length;
