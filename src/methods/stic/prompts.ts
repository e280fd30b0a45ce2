// STIC's prompts (METHODS.md section 1), as two sets (snapshot-tested: a change is deliberate):
//
// "paper", for real instruction-following models: our own wording of the kinds of prompts the
// paper and its code use (yihedeng9/STIC, stic/generate_pref.py): one step-by-step detailed
// description prompt for the chosen answer; 8 hallucination-inducing prompts (imagined,
// hypothetical, out-of-frame objects); 8 plain description prompts under which both answers are
// stored; and the plain prompt the code's "describe and respond" inference uses (the fifth,
// llava/eval/model_vqa_mmbench_dar.py).
//
// "sceneworld", for the embedded models: they know only the prompts they were trained on
// (src/train/world-data.ts DESCRIPTION_PROMPTS; every word outside the world's vocabulary is
// <unk>), so every prompt here is one of those. The chosen prompt is CHAIR's "Describe this
// image in detail.", the one the base was trained on most (half of its description examples).
//
// Hallucination-inducing side of "sceneworld": the base does not understand "imagine" or
// "add hypothetical objects", so words cannot induce hallucination. A hot sample does: the
// same plain prompts sampled at a high temperature with top-k. Flattening the distribution
// moves probability mass mostly where the model has real alternatives (which object, colour,
// number, place comes next: exactly the slots a hallucination fills), while the top-k cut keeps
// template words it is sure of from turning into word salad. The rejected answer is then a
// fluent description with objects and attributes the model found plausible but did not read
// from the image: the same kind of negative as the paper's "objects that may exist in the
// scene". Eight inducers: the four description prompts at two temperatures (1.5 and 2.0, top-k
// 5). These values are a reasoned starting point, not yet measured on the trained base (tune
// with CHAIR on the rejected answers); a recipe may pass any other set.
import { z } from "zod";

/** Sampling that replaces the pass's temperature/top-p/top-k for one inducer. */
export interface InducerSampling {
  temperature: number;
  /** Default 1 (off). */
  topP?: number;
  /** Default 0 (off). */
  topK?: number;
}

/** One way to induce a hallucinated answer: a prompt, and optionally its own sampling. */
export interface HallucinationInducer {
  /** The user text, without the `<image>` marker. */
  prompt: string;
  /** When set, the rejected answer is sampled with this instead of the pass's settings. */
  sampling?: InducerSampling;
}

export interface SticPromptSet {
  id: string;
  /** The chosen answer's prompt: a detailed, step-by-step description request. */
  detailed: string;
  /** Plain description prompts: both answers are stored under one of them; the corruption branch asks one. */
  plain: readonly string[];
  hallucination: readonly HallucinationInducer[];
  /** The description prompt of stage 2 and of the describe-and-respond mode. */
  describe: string;
}

/** Our wording of STIC's step-by-step detailed description prompt. */
const PAPER_DETAILED = [
  "Describe this image in detail, covering each of the following in turn.",
  "1. The main subjects (people, animals, objects) and what they are doing.",
  "2. The setting: indoors or outdoors, and what kind of place it is.",
  "3. The mood of the image, and what creates it (light, weather, expressions).",
  "4. The main colours and the composition, and how they shape the image's effect.",
  "5. Details or symbols that matter for understanding what the image means.",
  "6. Where it applies, what the image may represent or be meant to convey.",
].join("\n");

const PAPER_PLAIN = [
  "Describe the details of the picture.",
  "Summarize what the image shows.",
  "Explain what this photograph depicts.",
  "Outline the main elements of the image.",
  "Describe the subjects and the composition of the frame.",
  "Describe the atmosphere and mood of this picture.",
  "Interpret the scene in the image.",
  "Identify the main points of focus in the image and describe them.",
] as const;

const PAPER_HALLUCINATION = [
  "Describe the image, including imaginative objects that could plausibly be in the scene.",
  "Describe the scene, adding hypothetical objects or people that would fit into it.",
  "Describe the image, suggesting everyday items or people that would make sense in this setting as if they were there.",
  "Describe the picture, including things that are not shown but would blend naturally into it.",
  "Describe the image, and imagine the objects and activities just outside the frame as part of it.",
  "Describe the scene, enriching it with plausible events or items.",
  "Describe the image, adding natural elements such as weather or animals that could realistically appear. State them as facts.",
  "Describe the picture, including tools, vehicles or gadgets one would expect in a similar situation.",
] as const;

export const PAPER_PROMPTS: SticPromptSet = {
  id: "paper",
  detailed: PAPER_DETAILED,
  plain: PAPER_PLAIN,
  hallucination: PAPER_HALLUCINATION.map((prompt) => ({ prompt })),
  describe: PAPER_PLAIN[4],
};

/** src/train/world-data.ts DESCRIPTION_PROMPTS without their `<image>\n` (a test checks they match). */
export const SCENEWORLD_DESCRIPTION_PROMPTS = [
  "Describe this image in detail.",
  "Give a detailed description of the image.",
  "What do you see in this picture? Describe everything.",
  "Describe everything in this picture, and where it is.",
] as const;

/** The hot-sampling settings of the sceneworld inducers (see the header). */
export const SCENEWORLD_HOT_SAMPLING: readonly InducerSampling[] = [
  { temperature: 1.5, topP: 1, topK: 5 },
  { temperature: 2.0, topP: 1, topK: 5 },
];

export const SCENEWORLD_PROMPTS: SticPromptSet = {
  id: "sceneworld",
  detailed: SCENEWORLD_DESCRIPTION_PROMPTS[0],
  plain: SCENEWORLD_DESCRIPTION_PROMPTS,
  hallucination: SCENEWORLD_HOT_SAMPLING.flatMap((sampling) =>
    SCENEWORLD_DESCRIPTION_PROMPTS.map((prompt) => ({ prompt, sampling })),
  ),
  describe: SCENEWORLD_DESCRIPTION_PROMPTS[0],
};

export const STIC_PROMPT_SETS: Readonly<Record<string, SticPromptSet>> = {
  paper: PAPER_PROMPTS,
  sceneworld: SCENEWORLD_PROMPTS,
};

/** A recipe field naming a prompt set (each use adds its default and help). */
export const PromptSetIdSchema = z.enum(Object.keys(STIC_PROMPT_SETS) as [string, ...string[]]);

/** A prompt set by id; an unknown id names the known ones. */
export function sticPromptSet(id: string): SticPromptSet {
  const set = STIC_PROMPT_SETS[id];
  if (set === undefined) {
    throw new RangeError(
      `unknown STIC prompt set ${JSON.stringify(id)} (known: ${Object.keys(STIC_PROMPT_SETS).join(", ")})`,
    );
  }
  return set;
}

/** Checks a (possibly user-made) set: every list non-empty, no empty prompt, sane sampling. */
export function checkPromptSet(set: SticPromptSet): SticPromptSet {
  const bad = (what: string) => {
    throw new RangeError(`STIC prompt set ${JSON.stringify(set.id)}: ${what}`);
  };
  if (set.detailed.trim() === "") bad("detailed prompt is empty");
  if (set.describe.trim() === "") bad("describe prompt is empty");
  if (set.plain.length === 0) bad("no plain prompts");
  if (set.hallucination.length === 0) bad("no hallucination-inducing prompts");
  set.plain.forEach((p, i) => {
    if (p.trim() === "") bad(`plain[${i}] is empty`);
  });
  set.hallucination.forEach((h, i) => {
    if (h.prompt.trim() === "") bad(`hallucination[${i}].prompt is empty`);
    const s = h.sampling;
    if (s !== undefined && !(s.temperature >= 0)) bad(`hallucination[${i}].sampling.temperature must be >= 0`);
  });
  for (const p of [set.detailed, set.describe, ...set.plain, ...set.hallucination.map((h) => h.prompt)]) {
    if (p.includes("<image>")) bad(`prompts hold no <image> marker (it is added per request): ${JSON.stringify(p)}`);
  }
  return set;
}

/** A user turn for `count` images: one `<image>` marker per image, each on its own line, then the text. */
export function imageTurn(text: string, count = 1): string {
  return "<image>\n".repeat(count) + text;
}
