// STIC stage 2: description-infused fine-tuning data (METHODS.md section 1; reference code
// yihedeng9/STIC stic/generate_des_stage2.py, stic/add_des_to_data.py).
//
// The stage-1 model describes each instruction image (describeImages), and each question is
// prefixed with `Image description:\n{description}\n\n`. The `<image>` marker stays first, as
// the code writes it (it replaces "<image>\n" with "<image>\nImage description:\n...") and as
// the chat templates expect (LLaVA-style models are trained with the image before the text):
//
//   <image>\nImage description:\n{description}\n\n{question}
//
// Markers elsewhere in the question (LLaVA data has some at the end) are moved to the front, one
// per image, so the layout does not depend on where the source put them. infuseDescription is
// also the prefix of the describe-and-respond inference mode (describe-then-answer.ts), so the
// model sees at inference exactly the layout it was trained on.
//
// Description prompt: the prompt set's `describe` prompt for every image by default (the one
// describe-and-respond uses, so training and inference descriptions come alike); the code's
// choice, a random plain prompt per image, is `promptChoice: "random-plain"`. Temperature 0.2
// (the code's), seeded per request id `<item>/describe`.
import type { GenerationRequest, VisionLanguageModel } from "../../backends/types.js";
import { parseSftRecord, type SftRecord } from "../../data/records.js";
import type { ChatImage } from "../../images/chat-image.js";
import { itemRng } from "../common/item-rng.js";
import { checkPromptSet, imageTurn, PAPER_PROMPTS, type SticPromptSet } from "./prompts.js";

export interface InstructionItem {
  id: string;
  image: ChatImage;
  /** The user's question; an `<image>` marker in it is optional (see the header). */
  question: string;
  answer: string;
  source?: string;
}

export interface DescribeOptions {
  /** Default PAPER_PROMPTS. */
  prompts?: SticPromptSet;
  /** "describe" (default): the set's describe prompt; "random-plain": a plain prompt per image (the code). */
  promptChoice?: "describe" | "random-plain";
  /** Default 0.2. */
  temperature?: number;
  /** Default 1024. */
  maxTokens?: number;
  /** Images per generate() call (default 16). */
  chunkSize?: number;
  /** Seeds the sampling (per request id) and the random-plain choice. Default 0. */
  seed?: number;
}

export interface ImageDescription {
  id: string;
  description: string;
  /** The prompt that produced it. */
  prompt: string;
}

const MARKER = /<image>\n?/g;

/**
 * `{markers}Image description:\n{description}\n\n{rest}`: the user turn's `<image>` markers
 * first (one line each), then the description, then the turn's text without its markers
 * (trimmed: a marker at the end leaves no dangling newline).
 */
export function infuseDescription(content: string, description: string): string {
  const markers = content.match(MARKER)?.length ?? 0;
  const rest = content.replace(MARKER, "").trim();
  return `${"<image>\n".repeat(markers)}Image description:\n${description}\n\n${rest}`;
}

/** The stage-1 model's description of each item's image, in item order. */
export async function describeImages(
  backend: VisionLanguageModel,
  items: readonly { id: string; image: ChatImage }[],
  options: DescribeOptions = {},
): Promise<ImageDescription[]> {
  const set = checkPromptSet(options.prompts ?? PAPER_PROMPTS);
  const seed = options.seed ?? 0;
  const chunkSize = options.chunkSize ?? 16;
  if (!Number.isInteger(chunkSize) || chunkSize < 1)
    throw new RangeError(`describeImages: chunkSize ${chunkSize} must be a positive integer`);
  const promptOf = (id: string) =>
    options.promptChoice === "random-plain"
      ? set.plain[Math.floor(itemRng(seed, "stic", `describe:${id}`)() * set.plain.length)]
      : set.describe;
  const out: ImageDescription[] = [];
  for (let start = 0; start < items.length; start += chunkSize) {
    const chunk = items.slice(start, start + chunkSize);
    const prompts = chunk.map((item) => promptOf(item.id));
    const requests: GenerationRequest[] = chunk.map((item, i) => ({
      id: `${item.id}/describe`,
      images: [item.image],
      messages: [{ role: "user", content: imageTurn(prompts[i]) }],
    }));
    const samples = await backend.generate(requests, {
      n: 1,
      temperature: options.temperature ?? 0.2,
      topP: 1,
      topK: 0,
      maxTokens: options.maxTokens ?? 1024,
      stop: [],
      seed,
      logprobs: false,
    });
    chunk.forEach((item, i) => {
      const s = samples[i]?.[0];
      if (s === undefined) throw new Error(`${backend.name}: no description for ${item.id}`);
      out.push({ id: item.id, description: s.text.trim(), prompt: prompts[i] });
    });
  }
  return out;
}

export interface InfusedOptions {
  stage: string;
  round?: number;
  /** The backend name that described the images (provenance). */
  model: string;
  imagePath: (image: ChatImage) => Promise<string>;
  /** The seed describeImages ran with (provenance). */
  seed?: number;
  /** The description sampling (provenance), e.g. { temperature: 0.2, max_tokens: 1024 }. */
  sampling?: Record<string, number | string | boolean>;
}

export interface InfusedResult {
  records: SftRecord[];
  /** Items without a usable description (missing or empty). */
  dropped: { itemId: string; reason: "no-description" | "empty-description" }[];
}

/** Stage-2 SFT records: `<image>\nImage description:\n{d}\n\n{question}` -> the original answer. */
export async function infusedRecords(
  items: readonly InstructionItem[],
  descriptions: readonly ImageDescription[],
  options: InfusedOptions,
): Promise<InfusedResult> {
  const byId = new Map(descriptions.map((d) => [d.id, d]));
  const out: InfusedResult = { records: [], dropped: [] };
  for (const item of items) {
    const d = byId.get(item.id);
    if (d === undefined || d.description.trim() === "") {
      out.dropped.push({ itemId: item.id, reason: d === undefined ? "no-description" : "empty-description" });
      continue;
    }
    const markers = item.question.match(MARKER)?.length ?? 0;
    if (markers > 1) throw new RangeError(`item ${item.id}: the question holds ${markers} <image> markers for 1 image`);
    const record = {
      kind: "sft" as const,
      id: item.id,
      images: [await options.imagePath(item.image)],
      messages: [
        {
          role: "user" as const,
          content: infuseDescription(imageTurn(item.question.replace(MARKER, "")), d.description),
        },
        { role: "assistant" as const, content: item.answer },
      ],
      provenance: {
        method: "stic",
        stage: options.stage,
        ...(options.round === undefined ? {} : { round: options.round }),
        model: options.model,
        ...(options.seed === undefined ? {} : { seed: options.seed }),
        ...(options.sampling === undefined ? {} : { sampling: options.sampling }),
        reasons: ["description-infused"],
        source: item.source ?? item.id,
      },
    };
    out.records.push(parseSftRecord(record, `stic infused record for item ${item.id}`));
  }
  return out;
}
