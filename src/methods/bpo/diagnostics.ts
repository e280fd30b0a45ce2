// Which errors each negative generator makes, on SceneWorld, where every image's objects are
// known (a diagnostic: it reads the instruction split's scene graphs, which the method itself
// does not need). BPO's premise is that its negatives carry the language model's prior; here an
// error is an object the negative names (CHAIR's mention extraction and synonyms) that the
// scene does not hold, and it is prior-driven when it is the prior partner of an anchor the
// scene holds (src/eval/prior-errors.ts isPriorPartner: the crescent named beside a star).
//
// Per generator (and per positive style), over the kept pairs whose source image is a scene:
//   hallucinated        absent objects named, over all negatives
//   priorPartners       those that are a present anchor's partner
//   partnerShare        priorPartners / hallucinated
//   chanceShare         the share expected if each error named an absent shape at random: per
//                       hallucinated mention, (absent shapes that are a present anchor's partner)
//                       / (absent shapes), averaged. partnerShare well above it means the errors
//                       follow the prior.
//   hallucinatedPerPair hallucinated / pairs on scenes
// The positives (the chosen sides, each counted once) are scored the same way: ground truth, so
// their counts should be zero; anything else is a mismatch between the world's texts and the
// mention extraction.
//
// Only the kept pairs are scored (dropped negatives are not stored). A QA answer rarely names an
// object ("yes", "2"), so its errors are mostly invisible here: the QA rows count what the
// answers name, not whether the answer is right.

import type { PreferenceRecord } from "../../data/records.js";
import { chairVerdict, extractObjectMentions } from "../../eval/chair.js";
import type { PriorPairs } from "../../eval/prior-errors.js";
import { isPriorPartner } from "../../eval/prior-errors.js";
import type { SynonymTable } from "../../eval/text.js";
import { GENERATORS, type Generator } from "./negatives.js";

export interface ErrorCounts {
  pairs: number;
  /** Pairs whose source is a scene (creatures have no object list). */
  onScenes: number;
  mentions: number;
  hallucinated: number;
  priorPartners: number;
  partnerShare: number;
  chanceShare: number;
  hallucinatedPerPair: number;
}

export interface BpoDiagnostics {
  generators: Partial<Record<Generator, ErrorCounts & { byStyle: Record<string, ErrorCounts> }>>;
  positives: ErrorCounts;
  priorPairs: PriorPairs;
}

class Tally {
  pairs = 0;
  onScenes = 0;
  mentions = 0;
  hallucinated = 0;
  priorPartners = 0;
  chance = 0;

  result(): ErrorCounts {
    const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
    return {
      pairs: this.pairs,
      onScenes: this.onScenes,
      mentions: this.mentions,
      hallucinated: this.hallucinated,
      priorPartners: this.priorPartners,
      partnerShare: ratio(this.priorPartners, this.hallucinated),
      chanceShare: ratio(this.chance, this.hallucinated),
      hallucinatedPerPair: ratio(this.hallucinated, this.onScenes),
    };
  }
}

/** The generator a pair's provenance names (`negative:<generator>:...`), or null. */
export function generatorOf(record: PreferenceRecord): Generator | null {
  for (const reason of record.provenance.reasons ?? []) {
    const g = /^negative:([a-z]+):/.exec(reason)?.[1];
    if (g !== undefined && (GENERATORS as readonly string[]).includes(g)) return g as Generator;
  }
  return null;
}

const styleOf = (record: PreferenceRecord) =>
  (record.provenance.reasons ?? []).find((r) => r.startsWith("positive:"))?.slice("positive:".length) ?? "unknown";

export interface DiagnosticsWorld {
  /** The objects of each scene of the source split, by record id (creatures absent). */
  objects: ReadonlyMap<string, readonly string[]>;
  /** Every shape the world draws (the chance share's absent shapes). */
  shapes: readonly string[];
  pairs: PriorPairs;
  table: SynonymTable;
}

/** The diagnostics of a stage's kept pairs. */
export function bpoDiagnostics(records: readonly PreferenceRecord[], world: DiagnosticsWorld): BpoDiagnostics {
  const add = (tally: Tally, text: string, objects: readonly string[] | undefined) => {
    tally.pairs++;
    if (objects === undefined) return;
    tally.onScenes++;
    const mentions = extractObjectMentions(text, world.table);
    const { hallucinated } = chairVerdict(mentions, { objects: [...objects] });
    tally.mentions += mentions.length;
    tally.hallucinated += hallucinated.length;
    tally.priorPartners += hallucinated.filter((m) => isPriorPartner(m, objects, world.pairs)).length;
    const absent = world.shapes.filter((s) => !objects.includes(s));
    const partners = absent.filter((s) => isPriorPartner(s, objects, world.pairs)).length;
    if (absent.length > 0) tally.chance += (partners / absent.length) * hallucinated.length;
  };
  const generators = new Map<Generator, { all: Tally; byStyle: Map<string, Tally> }>();
  const positives = new Tally();
  const seenPositives = new Set<string>();
  for (const r of records) {
    const g = generatorOf(r);
    if (g === null) continue;
    const source = r.provenance.source ?? r.id;
    const objects = world.objects.get(source);
    const entry = generators.get(g) ?? { all: new Tally(), byStyle: new Map<string, Tally>() };
    generators.set(g, entry);
    const style = styleOf(r);
    const byStyle = entry.byStyle.get(style) ?? new Tally();
    entry.byStyle.set(style, byStyle);
    add(entry.all, r.rejected, objects);
    add(byStyle, r.rejected, objects);
    const positiveId = r.id.slice(0, r.id.lastIndexOf("/"));
    if (!seenPositives.has(positiveId)) {
      seenPositives.add(positiveId);
      add(positives, r.chosen, objects);
    }
  }
  const out: BpoDiagnostics = { generators: {}, positives: positives.result(), priorPairs: world.pairs };
  for (const g of GENERATORS) {
    const entry = generators.get(g);
    if (entry === undefined) continue;
    out.generators[g] = {
      ...entry.all.result(),
      byStyle: Object.fromEntries([...entry.byStyle].map(([style, t]) => [style, t.result()])),
    };
  }
  return out;
}

/** One log line per generator. */
export function diagnosticsLines(d: BpoDiagnostics): string[] {
  const line = (name: string, c: ErrorCounts) =>
    `${name}: ${c.onScenes} pairs on scenes, ${c.hallucinated} absent objects named (${c.hallucinatedPerPair.toFixed(2)} per pair), ${c.priorPartners} prior partners of present objects: share ${c.partnerShare.toFixed(3)} (chance ${c.chanceShare.toFixed(3)})`;
  return [
    ...GENERATORS.flatMap((g) => {
      const c = d.generators[g];
      return c === undefined ? [] : [line(g, c)];
    }),
    line("positives", d.positives),
  ];
}
