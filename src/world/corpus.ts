// The text corpus the decoder reads before it ever sees an image (`pretrain language`), where a
// real VLM's language prior comes from: its language model learned from text which objects go
// together, and names the partner when vision is unsure (BPO's premise, DESIGN.md: Priors).
//
// Each text is the caption or the detailed description of a scene graph drawn under the world's
// co-occurrence prior, with no image rendered. The prior's strength is a knob: `partnerRate`
// replaces each pair's p (how often the partner is named with its anchor), so that at 0.98 the
// corpus names the partner nearly always, as human captions name the fork beside the plate even
// when it is out of frame. Creature texts (captions and descriptions) come with them, a fixed
// share of the corpus. Every text draws from its own stream keyed by (seed, index), apart from
// every split's streams, so the corpus shares no scene with the image splits.
import type { WorldConfig } from "./config.js";
import { sampleCreature } from "./creatures.js";
import { caption, creatureCaption, creatureDescription, describe } from "./language.js";
import { Rng } from "./rng.js";
import { sampleScene } from "./scene.js";

export interface CorpusOptions {
  /** Scenes drawn; each gives a caption and a description. */
  scenes: number;
  /** Creatures drawn; each gives a caption and a description. */
  creatures: number;
  /** How often the partner is named with its anchor (replaces each prior pair's p), in [0, 1]. */
  partnerRate: number;
  seed?: number;
}

/** The corpus's default size and strength (`pretrain language`'s defaults; README: shipped models). */
export const DEFAULT_CORPUS: CorpusOptions = { scenes: 40_000, creatures: 4_000, partnerRate: 0.95 };

export class CorpusError extends Error {
  override name = "CorpusError";
}

/** The corpus's texts, deterministic given the config and options. */
export function corpusTexts(config: WorldConfig, options: CorpusOptions): string[] {
  const { scenes, creatures, partnerRate } = options;
  if (!(partnerRate >= 0 && partnerRate <= 1)) {
    throw new CorpusError(`corpus partnerRate: expected a number in [0, 1], got ${partnerRate}`);
  }
  for (const [name, n] of Object.entries({ scenes, creatures })) {
    if (!Number.isInteger(n) || n < 0) throw new CorpusError(`corpus ${name}: expected an integer >= 0, got ${n}`);
  }
  const prior: WorldConfig = {
    ...config,
    priors: { ...config.priors, pairs: config.priors.pairs.map((p) => ({ ...p, p: partnerRate })) },
  };
  const seed = options.seed ?? 0;
  const synonymRate = config.language.synonymRate;
  const out: string[] = [];
  for (let i = 0; i < scenes; i++) {
    const rng = Rng.from("selfsynth-corpus", config.seed, seed, "scene", i);
    const scene = sampleScene(prior, rng.fork("scene"), { prior: "biased" });
    out.push(caption(scene, rng.fork("caption"), { synonymRate }));
    out.push(describe(scene, rng.fork("description"), { synonymRate }));
  }
  for (let i = 0; i < creatures; i++) {
    const rng = Rng.from("selfsynth-corpus", config.seed, seed, "creature", i);
    const creature = sampleCreature(config, rng.fork("creature"));
    out.push(
      creatureCaption(creature),
      creatureDescription(creature, !config.creatures.heldOut.includes(creature.species)),
    );
  }
  return out;
}
