// Fine-grained classification with an explanation (STS, Shi et al., ICLR 2025, arXiv
// 2502.14044): accuracy of the predicted species, the share of answers that name at least one
// visual feature, and concept precision and recall of the named features against the features
// visible in the image (SceneWorld knows them exactly; the paper judges them with a model).
import { ratio, SynonymTable, unique, wordTokens } from "./text.js";
import {
  type BenchSpec,
  defaultSettings,
  type EvalItem,
  type EvalRecord,
  type MetricInfo,
  sumCounts,
} from "./types.js";

export interface SpeciesVocabulary {
  /** Species names, each optionally with synonyms (first entry canonical). */
  species: SynonymTable;
  /** Concept (feature) phrases such as "forked tail", each optionally with synonyms. */
  concepts: SynonymTable;
}

/** A concept named by an id (e.g. SceneWorld's "tail:fan") and found in text by its phrases. */
export interface ConceptEntry {
  id: string;
  phrases: readonly string[];
}

/**
 * A vocabulary from plain lists: a species is a name or [name, ...synonyms]; a concept is a
 * phrase, [phrase, ...synonyms] (the first phrase names it), or {id, phrases} (the id names it
 * and is not itself looked for in answers).
 */
export function speciesVocabulary(
  species: readonly (string | readonly string[])[],
  concepts: readonly (string | readonly string[] | ConceptEntry)[],
): SpeciesVocabulary {
  const named = concepts.filter((c): c is ConceptEntry => typeof c === "object" && "id" in c);
  const plain = concepts.filter((c): c is string | readonly string[] => !(typeof c === "object" && "id" in c));
  const groups = (xs: readonly (string | readonly string[])[]) => xs.map((x) => (typeof x === "string" ? [x] : x));
  if (named.length > 0 && plain.length > 0) {
    throw new Error("species vocabulary: give every concept as {id, phrases}, or none");
  }
  return {
    species: new SynonymTable(groups(species)),
    concepts:
      named.length > 0
        ? new SynonymTable(
            named.map((c) => [c.id, ...c.phrases]),
            { matchCanonical: false },
          )
        : new SynonymTable(groups(plain)),
  };
}

export interface SpeciesParsed {
  /** The first species named in the answer (canonical), or null. */
  species: string | null;
  /** Distinct canonical concepts named, in order. */
  features: string[];
}

/**
 * Reads a species answer. The predicted species is the first species name (or synonym) in the
 * answer, longest match first; features are the concept phrases named outside the species names
 * (so a species called "crested finch" does not by itself name the concept "crest"). Phrase
 * matching is literal after lower-casing and singularizing: "a tail that is forked" does not
 * name "forked tail", and a negated feature ("it has no crest") still counts as named.
 */
export function parseSpeciesAnswer(answer: string, vocab: SpeciesVocabulary): SpeciesParsed {
  const tokens = wordTokens(answer);
  const speciesMentions = vocab.species.findMentionsInTokens(tokens);
  const masked = [...tokens];
  for (const m of speciesMentions) masked.fill("", m.index, m.index + m.length);
  return {
    species: speciesMentions[0]?.canonical ?? null,
    features: unique(vocab.concepts.findMentionsInTokens(masked).map((m) => m.canonical)),
  };
}

export interface SpeciesItem extends EvalItem {
  species: string;
  /** The species was held out of the model's training text (SceneWorld's creatures.heldOut). */
  heldOut?: boolean;
  /** The concepts visible in this image (the rest are occluded or out of frame). */
  visibleFeatures: readonly string[];
}

export interface SpeciesTruth {
  species: string;
  visible_features: string[];
  /** Present when the source says which species the model was never told the names of. */
  held_out?: boolean;
}

export interface SpeciesVerdict {
  correct: boolean;
  explained: boolean;
  /** Named features that are visible. */
  supported: string[];
  /** Named features that are not visible (wrong for this image, or not this species' at all). */
  unsupported: string[];
}

export function speciesVerdict(parsed: SpeciesParsed, truth: SpeciesTruth): SpeciesVerdict {
  const visible = new Set(truth.visible_features);
  return {
    correct: parsed.species === truth.species,
    explained: parsed.features.length > 0,
    supported: parsed.features.filter((f) => visible.has(f)),
    unsupported: parsed.features.filter((f) => !visible.has(f)),
  };
}

export const SPECIES_METRICS: Readonly<Record<string, MetricInfo>> = {
  accuracy: { higherIsBetter: true, description: "the first species named is the true one" },
  explanation_rate: { higherIsBetter: true, description: "answers naming at least one concept" },
  concept_precision: {
    higherIsBetter: true,
    description: "named concepts that are visible / named concepts, over all answers (0 when none named)",
  },
  concept_recall: { higherIsBetter: true, description: "visible concepts named / visible concepts, over all answers" },
  accuracy_known: {
    higherIsBetter: true,
    description: "accuracy on species named in the model's training text (when the items say which)",
  },
  accuracy_held_out: {
    higherIsBetter: true,
    description: "accuracy on species held out of the model's training text (when the items say which)",
  },
  // STS's explanation metrics per group (METHODS.md, Measures): a method that teaches the held-out
  // names must not buy them with explanations that name what cannot be seen.
  ...groupMetricInfo("known", "species named in the model's training text"),
  ...groupMetricInfo("held_out", "species held out of the model's training text"),
};

function groupMetricInfo(group: "known" | "held_out", what: string): Record<string, MetricInfo> {
  const when = `, on ${what} (when the items say which)`;
  return {
    [`explanation_rate_${group}`]: { higherIsBetter: true, description: `answers naming at least one concept${when}` },
    [`concept_precision_${group}`]: {
      higherIsBetter: true,
      description: `named concepts that are visible / named concepts${when}`,
    },
    [`concept_recall_${group}`]: {
      higherIsBetter: true,
      description: `visible concepts named / visible concepts${when}`,
    },
  };
}

/** One answer's counts: the species metrics are ratios of their sums (speciesFromCounts). */
export function speciesItemCounts({ parsed, truth }: { parsed: SpeciesParsed; truth: SpeciesTruth }) {
  const v = speciesVerdict(parsed, truth);
  const counts = {
    answers: 1,
    correct: v.correct ? 1 : 0,
    explained: v.explained ? 1 : 0,
    supported: v.supported.length,
    named: parsed.features.length,
    visible: truth.visible_features.length,
    // Known and held-out species apart, when the items say which (STS names the held-out ones).
    knownAnswers: 0,
    knownCorrect: 0,
    knownExplained: 0,
    knownSupported: 0,
    knownNamed: 0,
    knownVisible: 0,
    heldOutAnswers: 0,
    heldOutCorrect: 0,
    heldOutExplained: 0,
    heldOutSupported: 0,
    heldOutNamed: 0,
    heldOutVisible: 0,
    marked: 0,
  };
  if (truth.held_out !== undefined) {
    counts.marked = 1;
    const group = truth.held_out ? "heldOut" : "known";
    counts[`${group}Answers`] = 1;
    counts[`${group}Correct`] = counts.correct;
    counts[`${group}Explained`] = counts.explained;
    counts[`${group}Supported`] = counts.supported;
    counts[`${group}Named`] = counts.named;
    counts[`${group}Visible`] = counts.visible;
  }
  return counts;
}
export type SpeciesCounts = ReturnType<typeof speciesItemCounts>;

export function speciesFromCounts(counts: Readonly<Partial<SpeciesCounts>>) {
  const c = (name: keyof SpeciesCounts) => counts[name] ?? 0;
  return {
    accuracy: ratio(c("correct"), c("answers")),
    explanation_rate: ratio(c("explained"), c("answers")),
    concept_precision: ratio(c("supported"), c("named")),
    concept_recall: ratio(c("supported"), c("visible")),
    ...(c("marked") > 0
      ? {
          accuracy_known: ratio(c("knownCorrect"), c("knownAnswers"), Number.NaN),
          accuracy_held_out: ratio(c("heldOutCorrect"), c("heldOutAnswers"), Number.NaN),
          ...groupExplanation(counts, "known", "known"),
          ...groupExplanation(counts, "heldOut", "held_out"),
        }
      : {}),
  };
}

/** A group's explanation metrics: NaN when it has no answers; precision 0 when none named (as overall). */
function groupExplanation(counts: Readonly<Partial<SpeciesCounts>>, group: "known" | "heldOut", suffix: string) {
  const c = (name: string) => counts[`${group}${name}` as keyof SpeciesCounts] ?? 0;
  const none = c("Answers") === 0;
  return {
    [`explanation_rate_${suffix}`]: ratio(c("Explained"), c("Answers"), Number.NaN),
    [`concept_precision_${suffix}`]: none ? Number.NaN : ratio(c("Supported"), c("Named")),
    [`concept_recall_${suffix}`]: none ? Number.NaN : ratio(c("Supported"), c("Visible")),
  };
}

export function speciesMetrics(items: readonly { parsed: SpeciesParsed; truth: SpeciesTruth }[]) {
  return speciesFromCounts(sumCounts(items.map(speciesItemCounts)) as SpeciesCounts);
}

export function speciesBench(
  vocab: SpeciesVocabulary,
): BenchSpec<SpeciesItem, SpeciesParsed, SpeciesTruth, SpeciesVerdict> {
  const canonical = (table: SynonymTable, name: string, what: string) => {
    const c = table.canonical(name);
    if (c === null) throw new Error(`species bench: ${what} '${name}' is not in the vocabulary`);
    return c;
  };
  return {
    name: "species",
    description: "fine-grained species with an explanation: accuracy, explanation rate, concept precision/recall",
    // STS's "explain" question form.
    defaultGeneration: defaultSettings({
      promptTemplate: "<image>\nWhat species is this creature? Explain which visual features show it.",
      maxTokens: 96,
    }),
    metricInfo: SPECIES_METRICS,
    promptFields: () => ({}),
    groundTruth: (item) => ({
      species: canonical(vocab.species, item.species, "species"),
      visible_features: unique(item.visibleFeatures.map((f) => canonical(vocab.concepts, f, "concept"))),
      ...(item.heldOut === undefined ? {} : { held_out: item.heldOut }),
    }),
    parse: (raw) => parseSpeciesAnswer(raw, vocab),
    verdict: speciesVerdict,
    itemCounts: (record) => speciesItemCounts({ parsed: record.parsed_answer, truth: record.ground_truth }),
    fromCounts: speciesFromCounts,
    metrics: (records: readonly EvalRecord<SpeciesParsed, SpeciesTruth>[]) =>
      speciesMetrics(records.map((r) => ({ parsed: r.parsed_answer, truth: r.ground_truth }))),
  };
}
