// The splits: pretraining (captions), instruction (descriptions and questions), an unlabeled
// pool (images only), validation and test. Every item draws from its own stream keyed by
// (seed, split, kind, index), so splits never share a stream and an item does not depend on the
// order of generation. Priors: biased splits draw partners with their anchors (config.priors);
// unbiased splits draw objects independently, except a `priorBreakingShare` of their scenes, which
// hold an anchor without its partner (and never any anchor with its partner).
import { SPLIT_NAMES, type SplitName, type WorldConfig } from "./config.js";
import { type CreatureImage, sampleCreature } from "./creatures.js";
import {
  type CreatureQuestion,
  caption,
  creatureCaption,
  creatureDescription,
  creatureQuestions,
  describe,
  existenceQuestions,
  questionSet,
} from "./language.js";
import type { Question } from "./questions.js";
import { Rng } from "./rng.js";
import { objectWords, type PriorMode, type Scene, sampleScene } from "./scene.js";

export { SPLIT_NAMES, type SplitName };

/** What each split's records carry. */
export const SPLIT_TEXTS: Record<SplitName, { caption: boolean; description: boolean; questions: boolean }> = {
  pretraining: { caption: true, description: false, questions: false },
  instruction: { caption: false, description: true, questions: true },
  pool: { caption: true, description: true, questions: true },
  validation: { caption: true, description: true, questions: true },
  test: { caption: true, description: true, questions: true },
};

export function itemRng(config: WorldConfig, split: SplitName, kind: "scene" | "creature", index: number): Rng {
  return Rng.from("selfsynth-world", config.seed, split, kind, index);
}

export const itemId = (split: SplitName, kind: "scene" | "creature", index: number) =>
  `${split}-${kind === "scene" ? "s" : "c"}${String(index).padStart(6, "0")}`;

/** Spreads exactly round(n * share) prior-breaking scenes evenly over the split. */
export function isPriorBreaking(share: number, index: number): boolean {
  return Math.floor((index + 1) * share + 1e-9) > Math.floor(index * share + 1e-9);
}

export function priorMode(config: WorldConfig, split: SplitName, index: number): PriorMode {
  const s = config.splits[split];
  if (s.biased) return "biased";
  return config.priors.pairs.length && isPriorBreaking(s.priorBreakingShare, index) ? "breaking" : "independent";
}

export interface SceneRecord {
  id: string;
  split: SplitName;
  kind: "scene";
  image: string;
  sha256?: string;
  /** Canonical object words present (for POPE and CHAIR). */
  objects: string[];
  priorBreaking: boolean;
  caption?: string;
  description?: string;
  questions?: Question[];
  scene: Scene;
}

export interface CreatureRecord {
  id: string;
  split: SplitName;
  kind: "creature";
  image: string;
  sha256?: string;
  species: string;
  /** Whether the species is held out of the base's training text (config.creatures.heldOut); absent in older worlds. */
  heldOut?: boolean;
  concepts: string[];
  visibleConcepts: string[];
  hiddenConcepts: string[];
  caption?: string;
  description?: string;
  questions?: CreatureQuestion[];
  creature: CreatureImage;
}

export type WorldRecord = SceneRecord | CreatureRecord;

export function sceneRecord(config: WorldConfig, split: SplitName, index: number): SceneRecord {
  const rng = itemRng(config, split, "scene", index);
  const mode = priorMode(config, split, index);
  const scene = sampleScene(config, rng.fork("scene"), { prior: mode });
  const id = itemId(split, "scene", index);
  const texts = SPLIT_TEXTS[split];
  const synonymRate = config.language.synonymRate;
  const record: SceneRecord = {
    id,
    split,
    kind: "scene",
    image: `images/${id}.png`,
    objects: objectWords(scene),
    priorBreaking: mode === "breaking",
    scene,
  };
  if (texts.caption) record.caption = caption(scene, rng.fork("caption"), { synonymRate });
  if (texts.description) record.description = describe(scene, rng.fork("description"), { synonymRate });
  if (texts.questions) {
    const count = config.splits[split].questionsPerImage ?? config.language.questionsPerImage;
    record.questions = questionSet(scene, rng.fork("questions"), {
      count,
      kWeights: config.language.kWeights,
      synonymRate,
    });
    const existence = config.splits[split].existenceQuestions ?? config.language.existenceQuestions;
    if (existence > 0) {
      record.questions.push(
        ...existenceQuestions(scene, rng.fork("existence"), {
          count: existence,
          shapes: config.objects.shapes,
          synonymRate,
        }),
      );
    }
  }
  return record;
}

/** The splits the base learns from: a held-out species is never named in them. */
export const BASE_TRAINING_SPLITS: readonly SplitName[] = ["pretraining", "instruction"];

/** Whether a split's texts name this species (false for a held-out species in a training split). */
export function namesSpecies(config: WorldConfig, split: SplitName, species: string): boolean {
  return !(BASE_TRAINING_SPLITS.includes(split) && config.creatures.heldOut.includes(species));
}

export function creatureRecord(config: WorldConfig, split: SplitName, index: number): CreatureRecord {
  const rng = itemRng(config, split, "creature", index);
  const creature = sampleCreature(config, rng.fork("creature"));
  const id = itemId(split, "creature", index);
  const texts = SPLIT_TEXTS[split];
  const record: CreatureRecord = {
    id,
    split,
    kind: "creature",
    image: `images/${id}.png`,
    species: creature.species,
    heldOut: config.creatures.heldOut.includes(creature.species),
    concepts: creature.concepts,
    visibleConcepts: creature.visibleConcepts,
    hiddenConcepts: creature.hiddenConcepts,
    creature,
  };
  if (texts.caption) record.caption = creatureCaption(creature);
  const named = namesSpecies(config, split, creature.species);
  if (texts.description) record.description = creatureDescription(creature, named);
  if (texts.questions) record.questions = creatureQuestions(creature, rng.fork("questions"), named);
  return record;
}

/** Every record of a split, scenes first, in index order. */
export function* splitRecords(config: WorldConfig, split: SplitName): Generator<WorldRecord> {
  const s = config.splits[split];
  for (let i = 0; i < s.scenes; i++) yield sceneRecord(config, split, i);
  for (let i = 0; i < s.creatures; i++) yield creatureRecord(config, split, i);
}

export function splitSize(config: WorldConfig, split: SplitName): number {
  return config.splits[split].scenes + config.splits[split].creatures;
}
