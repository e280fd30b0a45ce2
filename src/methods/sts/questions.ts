// STS's questions and answers (METHODS.md section 4, step 4; released code src/intstructions.py
// has a list of instructions per type and dataset): three question types, the synthesis prompt
// that carries the label and the selected concepts, the bare question a record trains on (label
// and concepts stripped), the label check, and SceneWorld's writer of label-plus-concept answers.
import { itemRng } from "../common/item-rng.js";

export const QUESTION_TYPES = ["simple", "explain", "cot"] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];

/**
 * The instructions per type, worded for creatures. "explain" includes the species bench's own
 * prompt: the paper trains and evaluates on the same instruction lists.
 */
export const QUESTIONS: Readonly<Record<QuestionType, readonly string[]>> = {
  simple: ["What species is this creature?", "What kind of creature is this?", "What is this creature?"],
  explain: [
    "What species is this creature? Explain which visual features show it.",
    "What is this creature and why?",
    "Which species is this, and how can you tell?",
  ],
  cot: [
    "What species is this creature? Think step by step: first list the visual features you can see, then name it.",
    "Describe the visible features of this creature step by step, then say which species it is.",
  ],
};

/** The prompts the policy describes an image with (the paper: 3 instructions x 10 samples). */
export const DESCRIBE_PROMPTS: readonly string[] = [
  "Describe this creature in detail.",
  "What visual features does this creature have?",
  "Describe the body, head, tail and other parts of this creature.",
];

/** One question of a type for an item, drawn from its own random stream. */
export function questionFor(type: QuestionType, itemId: string, seed: number): string {
  const list = QUESTIONS[type];
  return list[Math.floor(itemRng(seed, "sts", `question:${type}:${itemId}`)() * list.length)];
}

/** The user turn the model is asked with, and the one a record trains on: the image first. */
export const imageQuestion = (question: string) => `<image>\n${question}`;

/**
 * The synthesis prompt (the paper's wording): the label and the selected concepts, then the
 * question. Only the synthesis sees it; the record keeps the bare question (bareQuestion).
 */
export function synthesisPrompt(label: string, concepts: readonly string[], question: string): string {
  const features = concepts.map((c) => `- ${c}\n`).join("");
  return `<image>\nThis is a picture of ${withArticle(label)} with the following visual features:\n${features}Answer the question: ${question}`;
}

/** The bare question of a synthesis prompt: label and concepts stripped. */
export function bareQuestion(prompt: string): string {
  const m =
    /^<image>\nThis is a picture of .+ with the following visual features:\n(?:- .*\n)*Answer the question: ([\s\S]+)$/.exec(
      prompt,
    );
  if (m === null) throw new Error(`sts: not a synthesis prompt: ${JSON.stringify(prompt.slice(0, 80))}`);
  return imageQuestion(m[1]);
}

const words = (text: string) =>
  ` ${text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, " ")
    .trim()} `;

/**
 * Whether an answer names the label: its words, lower-cased with punctuation dropped, contain the
 * label's as a whole-word run ("Corla." names "corla"; "corlas" and "scorla" do not). The released
 * code's check is a substring test after the same clean-up (simplify_text).
 */
export function namesLabel(answer: string, label: string): boolean {
  const l = words(label);
  return l.trim() !== "" && words(answer).includes(l);
}

export const withArticle = (p: string) => (/^[aeiou]/i.test(p) ? `an ${p}` : `a ${p}`);

function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/**
 * SceneWorld's round-1 writer (a divergence, README STS): the embedded base was never taught to
 * follow a prompt that carries a label and a list of features, so the world's language writes the
 * answer the paper asks the policy for, from the label and the selected concepts only (never from
 * the image's truth): what the policy would write if it followed the prompt faithfully.
 */
export function writeAnswer(type: QuestionType, label: string, concepts: readonly string[]): string {
  const list = joinList(concepts);
  if (type === "simple") return `This is ${withArticle(label)}.`;
  if (type === "explain") return `This is ${withArticle(label)}, because it has ${list}.`;
  return `It has ${list}. These features show that this is ${withArticle(label)}.`;
}

/** The paper's fallback answer when no sample names the label (rejection sampling). */
export const fallbackAnswer = (label: string) => `This is an image of ${label}.`;
