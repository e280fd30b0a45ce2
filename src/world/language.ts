// Text from the graph: short captions, detailed descriptions (every object with its attributes,
// motion, touching partner and place, the words, and relations between neighbours), question
// sets for an image, and the language of creature images (captions, descriptions, questions).
import { capabilitySets, composeQuestion } from "./compose.js";
import { type CreatureImage, concept, SPECIES, species } from "./creatures.js";
import { printQuestion } from "./question-english.js";
import type { Capability, Program, Question } from "./questions.js";
import type { Rng } from "./rng.js";
import { column, row, type Scene, type SceneObject } from "./scene.js";
import { CELL_PHRASES, NUMBER_WORDS, plural, SCENE_PHRASES, type Shape, SYNONYMS } from "./vocabulary.js";

export interface TextOptions {
  /** Chance that an object word is replaced by a synonym. */
  synonymRate?: number;
}

function objectWord(o: SceneObject, rng: Rng | undefined, rate: number): string {
  return rng && rate > 0 && rng.bernoulli(rate) ? rng.pick(SYNONYMS[o.shape]) : o.shape;
}

function joinList(items: string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

const article = (p: string) => (/^[aeiou]/.test(p) ? `an ${p}` : `a ${p}`);
const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const inReadingOrder = (scene: Scene) => scene.objects.slice().sort((a, b) => a.cell - b.cell);
const motionPhrase = (o: SceneObject) =>
  o.motion === "left" || o.motion === "right" ? `moving to the ${o.motion}` : `moving ${o.motion}`;

/** A short caption naming every object (grouping identical ones), the words and the place. */
export function caption(scene: Scene, rng?: Rng, options: TextOptions = {}): string {
  const rate = options.synonymRate ?? 0;
  const groups = new Map<string, SceneObject[]>();
  for (const o of inReadingOrder(scene)) {
    const key = `${o.color} ${o.shape}`;
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  const parts = [...groups.values()].map((g) => {
    const w = objectWord(g[0], rng, rate);
    return g.length === 1 ? article(`${g[0].color} ${w}`) : `${NUMBER_WORDS[g.length]} ${g[0].color} ${plural(w)}`;
  });
  for (const w of scene.words) parts.push(`the word ${w.text}`);
  const list = joinList(parts);
  const place = SCENE_PHRASES[scene.background];
  const template = rng ? rng.int(0, 2) : 0;
  if (template === 1) return `${capitalize(place)}: ${list}.`;
  if (template === 2) return `A picture of ${list} ${place}.`;
  return `${capitalize(list)} ${place}.`;
}

/** Names an object unambiguously: colour and shape, plus its place when those are shared. */
function nameOf(scene: Scene, o: SceneObject, word: string): string {
  const twins = scene.objects.filter((x) => x.color === o.color && x.shape === o.shape).length;
  return twins > 1 ? `the ${o.color} ${word} ${CELL_PHRASES[o.cell]}` : `the ${o.color} ${word}`;
}

function relationPhrase(a: SceneObject | { cell: number }, b: { cell: number }): string | null {
  const h =
    column(a.cell) < column(b.cell) ? "to the left of" : column(a.cell) > column(b.cell) ? "to the right of" : "";
  const v = row(a.cell) < row(b.cell) ? "above" : row(a.cell) > row(b.cell) ? "below" : "";
  if (h && v) return `${v} and ${h}`;
  return h || v || null;
}

/** A detailed description: the place, every object with its attributes, the words, and relations. */
export function describe(scene: Scene, rng?: Rng, options: TextOptions = {}): string {
  const rate = options.synonymRate ?? 0;
  const objects = inReadingOrder(scene);
  const words = new Map(objects.map((o) => [o.id, objectWord(o, rng, rate)]));
  const n = objects.length;
  const sentences: string[] = [
    `This picture shows ${NUMBER_WORDS[n]} ${n === 1 ? "object" : "objects"} ${SCENE_PHRASES[scene.background]}.`,
  ];
  for (const o of objects) {
    let s = `${capitalize(CELL_PHRASES[o.cell])} there is ${article(`${o.size} ${o.color} ${words.get(o.id)}`)}`;
    if (o.motion) s += ` ${motionPhrase(o)}`;
    if (o.occluder) s += ", partly hidden behind a grey patch";
    sentences.push(`${s}.`);
  }
  const done = new Set<number>();
  for (const o of objects) {
    if (o.touching === null || done.has(o.id)) continue;
    const p = scene.objects[o.touching];
    done.add(o.id).add(p.id);
    sentences.push(
      `${capitalize(nameOf(scene, o, words.get(o.id)!))} is touching ${nameOf(scene, p, words.get(p.id)!)}.`,
    );
  }
  for (const w of scene.words) {
    sentences.push(`The word ${w.text} is written in ${w.color} letters ${CELL_PHRASES[w.cell]}.`);
  }
  for (let i = 0; i + 1 < objects.length; i++) {
    const a = objects[i];
    const b = objects[i + 1];
    const rel = relationPhrase(a, b);
    if (rel) {
      sentences.push(
        `${capitalize(nameOf(scene, a, words.get(a.id)!))} is ${rel} ${nameOf(scene, b, words.get(b.id)!)}.`,
      );
    }
  }
  return sentences.join(" ");
}

export interface QuestionSetOptions extends TextOptions {
  /** Questions wanted. */
  count: number;
  /** Relative frequency of k = 1..4. */
  kWeights: readonly number[];
  /** Capability sets tried per question before giving up on it. */
  tries?: number;
}

const SETS_BY_K = [1, 2, 3, 4].map(capabilitySets);

/**
 * Questions for one image as COMPACT samples them: each with its own k and capability set,
 * preferring capabilities not yet used on the image, never repeating a combination.
 */
export function questionSet(scene: Scene, rng: Rng, options: QuestionSetOptions): Question[] {
  const out: Question[] = [];
  const usedSets = new Set<string>();
  const usedCaps = new Set<Capability>();
  const tries = options.tries ?? 8;
  for (let q = 0; q < options.count; q++) {
    // k is drawn once per question; sets of that k are tried until one fits the scene.
    const k = 1 + rng.weighted(options.kWeights);
    for (let t = 0; t < tries; t++) {
      const sets = SETS_BY_K[k - 1].filter((s) => !usedSets.has(s.join("+")));
      if (!sets.length) break;
      const fresh = sets.filter((s) => s.some((c) => !usedCaps.has(c)));
      const caps = rng.pick(fresh.length && t < tries / 2 ? fresh : sets);
      const question = composeQuestion(scene, caps, rng, { synonymRate: options.synonymRate, attempts: 40 + 20 * k });
      if (!question) continue;
      usedSets.add(caps.join("+"));
      for (const c of caps) usedCaps.add(c);
      out.push(question);
      break;
    }
  }
  return out;
}

/**
 * Plain existence questions about single objects ("Is there a star in the image?", POPE's form
 * among other phrasings), alternating present and absent objects from a random start. Absent
 * objects are drawn uniformly from the shapes not in the scene, never by co-occurrence, so the
 * instruction data teaches the question without teaching the adversarial negatives: the
 * co-occurrence prior the base learns from the scenes themselves is left in place.
 */
export function existenceQuestions(
  scene: Scene,
  rng: Rng,
  options: { count: number; shapes: readonly Shape[]; synonymRate: number },
): Question[] {
  const present = [...new Set(scene.objects.map((o) => o.shape))];
  const absent = options.shapes.filter((s) => !present.includes(s));
  const out: Question[] = [];
  const asked = new Set<Shape>();
  let yes = rng.bernoulli(0.5);
  for (let q = 0; q < options.count; q++, yes = !yes) {
    const pool = (yes ? present : absent).filter((s) => !asked.has(s));
    if (!pool.length) continue;
    const shape = rng.pick(pool);
    asked.add(shape);
    const program: Program = { op: "exists", filter: { target: "object", atoms: [{ kind: "noun", shape }] } };
    const question = printQuestion(program, { rng, synonymRate: options.synonymRate });
    out.push({ question, answer: yes ? "yes" : "no", capabilities: ["object_recognition"], k: 1, program });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Creatures

const SPECIES_CONCEPT_IDS = [...new Set(SPECIES.flatMap((s) => s.concepts))];
const phrases = (ids: string[]) => ids.map((id) => concept(id).phrase);

/** A caption naming what can be seen, without the species name (for pretraining). */
export function creatureCaption(c: CreatureImage): string {
  return `A creature with ${joinList(phrases(c.visibleConcepts))}.`;
}

/**
 * Species, the visible concepts, and which parts are hidden; a held-out species (named false)
 * is described without its name.
 */
export function creatureDescription(c: CreatureImage, named = true): string {
  const hiddenParts = [...new Set(c.hiddenConcepts.map((id) => concept(id).part))];
  const lead = named ? `This is ${article(c.species)}. It has` : "This creature has";
  let s = `${lead} ${joinList(phrases(c.visibleConcepts))}.`;
  if (hiddenParts.length) s += ` Its ${joinList(hiddenParts)} cannot be seen.`;
  return s;
}

export interface CreatureQuestion {
  question: string;
  answer: string;
  capabilities: Capability[];
  task: "classify" | "explain" | "concept";
}

/**
 * Classification, explanation, and yes/no questions about concepts that are visible; for a
 * held-out species (named false) only the concept question, as no answer may name it.
 */
export function creatureQuestions(c: CreatureImage, rng: Rng, named = true): CreatureQuestion[] {
  const sp = species(c.species);
  const out: CreatureQuestion[] = [
    {
      question: rng.pick(["What kind of creature is this?", "What species is this?", "What is this creature?"]),
      answer: c.species,
      capabilities: ["object_recognition"],
      task: "classify",
    },
    {
      question: rng.pick(["What is this creature and why?", "Which species is this, and how can you tell?"]),
      answer: `This is ${article(c.species)}, because it has ${joinList(phrases(c.visibleConcepts))}.`,
      capabilities: ["object_recognition"],
      task: "explain",
    },
  ];
  // One concept it shows, or one it lacks (a concept of another species, in a visible part).
  const visibleParts = new Set(c.visibleConcepts.map((id) => concept(id).part));
  const absent = SPECIES_CONCEPT_IDS.filter((id) => !sp.concepts.includes(id) && visibleParts.has(concept(id).part));
  const yes = rng.bernoulli(0.5) || !absent.length;
  const id = yes ? rng.pick(c.visibleConcepts) : rng.pick(absent);
  const cat = concept(id).category;
  out.push({
    question: `Does this creature have ${concept(id).phrase}?`,
    answer: yes ? "yes" : "no",
    capabilities: [cat === "color" || cat === "crest" || cat === "wings" ? "color" : "shape"],
    task: "concept",
  });
  // Filtered after drawing, so a species' questions use the same draws whether it is held out.
  return named ? out : out.filter((q) => q.task === "concept");
}
