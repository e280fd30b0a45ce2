// COMPACT's capability combinations (METHODS.md section 5, step 1; Wu et al., arXiv 2504.21850;
// the released code's compact/generator.py): each question of an image gets its own k and its own
// combination of k of the ten atomic capabilities. A combination is never asked twice on one
// image, and capabilities that the image's questions do not use yet are preferred.
//
// Where this departs from the released code, and why:
//   - k per question, drawn from `kWeights` over {1, 2, 3} (the paper); the released code takes
//     one k per run, which `fixedK` reproduces (the recipe's `k: 1 | 2 | 3`).
//   - "used" means used by a question the image kept: a combination whose question was dropped
//     used nothing. The released code marks every combination it samples, before asking.
//   - no extra weight on action_recognition (the released code doubles it in its sampling list).
import { capabilitySets } from "../../world/compose.js";
import { CAPABILITIES, type Capability } from "../../world/questions.js";
import type { Rng } from "../../world/rng.js";

/** The values of k COMPACT asks for (its training data: k = 1, 2, 3). */
export const K_VALUES = [1, 2, 3] as const;
export type KValue = (typeof K_VALUES)[number];

const SETS = new Map<number, Capability[][]>(K_VALUES.map((k) => [k, capabilitySets(k)]));

/** A combination's key: its capabilities in the canonical order, joined by "+" (order-free). */
export function comboKey(capabilities: readonly Capability[]): string {
  return CAPABILITIES.filter((c) => capabilities.includes(c)).join("+");
}

/** What one image has asked and kept so far. */
export interface ImageCombos {
  /** Keys of every combination asked on the image (kept or not). */
  asked: Set<string>;
  /** Capabilities of the image's kept questions. */
  used: Set<Capability>;
}

export const newImageCombos = (): ImageCombos => ({ asked: new Set(), used: new Set() });

/**
 * A combination of k capabilities not yet asked on the image, or null when every one was. Drawn
 * uniformly from the first non-empty tier: combinations of capabilities all unused so far (the
 * released code's "available capabilities"), then those with at least one unused capability,
 * then any not yet asked. Marks the combination asked.
 */
export function sampleCombination(k: number, state: ImageCombos, rng: Rng): Capability[] | null {
  const sets = SETS.get(k);
  if (sets === undefined) throw new RangeError(`COMPACT combinations: k must be 1, 2 or 3, got ${k}`);
  const open = sets.filter((s) => !state.asked.has(comboKey(s)));
  if (open.length === 0) return null;
  const fresh = open.filter((s) => s.every((c) => !state.used.has(c)));
  const some = open.filter((s) => s.some((c) => !state.used.has(c)));
  const combo = rng.pick(fresh.length > 0 ? fresh : some.length > 0 ? some : open);
  state.asked.add(comboKey(combo));
  return combo;
}

/** Records a kept question's capabilities as used on the image. */
export function markUsed(state: ImageCombos, capabilities: readonly Capability[]): void {
  for (const c of capabilities) state.used.add(c);
}

/** How k is chosen: one per question by weight over K_VALUES, or fixed for the run (released code). */
export type KChoice = { fixed: KValue } | { weights: readonly [number, number, number] };

/**
 * The next question's k and combination: k drawn by the choice; when every combination of that k
 * was asked, the other k values in random order (never with a fixed k). Null when none is left.
 */
export function nextCombination(choice: KChoice, state: ImageCombos, rng: Rng): Capability[] | null {
  if ("fixed" in choice) return sampleCombination(choice.fixed, state, rng);
  const first = K_VALUES[rng.weighted(choice.weights)];
  const others = rng.shuffle(K_VALUES.filter((k, i) => k !== first && choice.weights[i] > 0));
  for (const k of [first, ...others]) {
    const combo = sampleCombination(k, state, rng);
    if (combo !== null) return combo;
  }
  return null;
}
