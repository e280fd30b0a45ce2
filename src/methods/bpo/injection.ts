// BPO's first negative generator, error injection: the policy's own language model turns the
// correct answer into a plausible wrong one, so the errors it adds are the ones its language
// prior finds likely (METHODS.md section 2, point 1). Two modes; a recipe names one.
//
//   rewrite (served instruction-following models): a text-only request asks the model to rewrite
//     the answer. The paper's two prompts, in our own words (snapshot-tested, so a change is
//     deliberate): description mode asks it to add or delete objects or change their attributes
//     (colour, shape, size, location) while keeping the description ordinary and logical; QA
//     mode shows six few-shot examples of the answer for "a similar but different image" (the
//     examples are ours: a description, a colour, an animal swapped, a count, a position, a
//     sign's text). Sampled at temperature 0.8, top-p 0.95 (the released error_injection.py).
//
//   prior-continuation (the embedded model, which cannot follow a rewrite instruction: its
//     vocabulary is the world's and it was never taught to edit text): the answer is cut after a
//     seeded share of its words (`cut`, drawn per positive from [min, max]) and the decoder
//     continues it with the image withheld, so everything it adds comes from its language prior
//     alone. Same sampling. Short answers (a QA "yes", "2") cut to nothing: the negative is then
//     the model's answer to the question without the image.
//
// How the image is withheld (`imageless`):
//   withhold (default): no image and no `<image>` marker in the request. The embedded backend
//     accepts it (generate() requires an image exactly when the prompt holds a marker;
//     models/batching.ts checkImage) and the decoder reads the turn as text. The text-first base
//     ("Toward a base that sees" in the README) learned the world's language from text before
//     any image, which is where this mode looks for the prior. Measured on the shipped base
//     (scripts/bpo-probe.ts: 40 instruction descriptions cut at 40%, temperature 0.8):
//     continuations name many objects (319 mentions, 186 absent from the scene), fluent but loose.
//   gray: a uniform mid-grey image (value 128) of the positive's size in its place, for backends
//     that need an image. On the shipped base the continuations then mostly stop short (57
//     mentions on the same 40 items): the grey image reads as "nothing here".
import type { GenerationRequest } from "../../backends/types.js";
import type { Turn } from "../../data/records.js";
import type { ChatImage } from "../../images/chat-image.js";
import { decodeImage, encodePng } from "../../images/codec.js";
import type { PositiveStyle } from "./positives.js";

export type InjectionMode = "rewrite" | "prior-continuation";
export type Imageless = "withhold" | "gray";

/** Description mode (the paper's description prompt, our wording). */
export function descriptionRewritePrompt(description: string): string {
  return [
    "Here is the description of an image. Change it so that it describes a slightly different image:",
    "add an object or two, remove one, or change what objects look like (their colour, shape, size or",
    "place). Keep the changes ordinary and logical, keep the style and length of the original, and",
    "answer with the changed description only.",
    "",
    `Description: ${description}`,
    "",
    "Changed description:",
  ].join("\n");
}

/** QA mode's six examples: (question, answer, the answer for a similar but different image). */
export const QA_EXAMPLES: readonly (readonly [string, string, string])[] = [
  [
    "Describe the image.",
    "A man walks his dog along a beach at sunset, and a few boats are out on the water.",
    "A woman rides a bicycle along a beach at sunset, with two dogs running beside her; the water is empty.",
  ],
  ["What color is the car?", "The car is red.", "The car is silver."],
  ["What animal is lying on the sofa?", "A cat is lying on the sofa.", "A dog is lying on the sofa."],
  ["How many apples are in the bowl?", "4", "3"],
  [
    "What is to the right of the lamp?",
    "A stack of books is to the right of the lamp.",
    "A potted plant is to the right of the lamp.",
  ],
  ["What does the sign say?", 'The sign says "Open".', 'The sign says "Closed".'],
];

/** QA mode (the paper's few-shot prompt, our wording and examples). */
export function qaRewritePrompt(question: string, answer: string): string {
  return [
    "You will see a question about an image and its answer. Imagine a similar but different image, with",
    "more objects, fewer objects, or objects that look different, and write the answer to the same",
    "question for that other image, in the style of the original answer. Examples:",
    ...QA_EXAMPLES.map(([q, a, other]) => `Question: ${q} Answer: ${a} Other image: ${other}`),
    "Now this one:",
    `Question: ${question} Answer: ${answer} Other image:`,
  ].join("\n");
}

/** The user text of a conversation's turns with every `<image>` marker (and its newline) removed. */
export function withoutMarkers(turns: readonly Turn[]): Turn[] {
  return turns.map((t) => ({ role: t.role, content: t.content.replace(/[ \t]*<image>\s*/g, " ").trim() }));
}

/** The rewrite request's user text for a positive. */
export function rewritePrompt(style: PositiveStyle, prompt: readonly Turn[], answer: string): string {
  if (style === "description") return descriptionRewritePrompt(answer);
  const question = withoutMarkers(prompt.slice(-1))[0]?.content ?? "";
  return qaRewritePrompt(question, answer);
}

/** Strips what a model may wrap its rewrite in: a leading label and enclosing quotes. */
export function cleanRewrite(text: string): string {
  let t = text.trim().replace(/^(changed description|modified description|modified response|other image)\s*:\s*/i, "");
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) t = t.slice(1, -1).trim();
  return t;
}

/**
 * The answer cut after floor(words · fraction) of its whitespace-separated words: the original
 * text up to the end of the last kept word (its spacing and punctuation as written).
 */
export function cutAnswer(answer: string, fraction: number): { prefix: string; words: number } {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`cutAnswer: fraction ${fraction} must be in [0, 1]`);
  const spans = [...answer.matchAll(/\S+/g)];
  const words = Math.floor(spans.length * fraction);
  if (words === 0) return { prefix: "", words: 0 };
  const last = spans[words - 1];
  return { prefix: answer.slice(0, (last.index ?? 0) + last[0].length), words };
}

/** A uniform grey (128) PNG of the image's size. */
export async function grayLike(image: ChatImage, source: string): Promise<ChatImage> {
  const { width, height } = await decodeImage(image.bytes, { source });
  const data = new Uint8Array(width * height * 3).fill(128);
  return { bytes: await encodePng({ width, height, data }), mimeType: "image/png" };
}

export interface InjectionPlan {
  request: GenerationRequest;
  /** The prior-continuation prefix ("" for rewrite). */
  prefix: string;
  /** Words of the positive kept in the prefix (0 for rewrite). */
  cutWords: number;
}

export interface InjectionItem {
  id: string;
  image: ChatImage;
  prompt: Turn[];
  answer: string;
  style: PositiveStyle;
}

/** The request that produces an item's injected negative; `uniform` draws the cut. */
export async function injectionPlan(
  item: InjectionItem,
  mode: InjectionMode,
  options: { cut: { min: number; max: number }; imageless: Imageless },
  uniform: () => number,
): Promise<InjectionPlan> {
  if (mode === "rewrite") {
    return {
      request: {
        id: item.id,
        images: [],
        messages: [{ role: "user", content: rewritePrompt(item.style, item.prompt, item.answer) }],
      },
      prefix: "",
      cutWords: 0,
    };
  }
  const { min, max } = options.cut;
  const { prefix, words } = cutAnswer(item.answer, min + (max - min) * uniform());
  const withheld = options.imageless === "withhold";
  const request: GenerationRequest = {
    id: item.id,
    images: withheld ? [] : [await grayLike(item.image, `item ${item.id}`)],
    messages: withheld ? withoutMarkers(item.prompt) : item.prompt,
  };
  if (prefix !== "") request.assistantPrefix = prefix;
  return { request, prefix, cutWords: words };
}
