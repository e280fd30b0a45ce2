// OpenAI chat messages -> the embedded model's chat template (models/chat-template.ts).
//
// - Text parts of one message are joined with spaces (the tokenizer is word-level, so the
//   separator only has to split words); an image_url part becomes an `<image>` marker at its
//   place, and its data URI is parsed here (decoded later, by the caller that needs pixels).
// - System (and developer) messages are folded into the first user turn, their text first, as
//   chat templates without a system role do (e.g. Mistral's, Gemma's): the model never saw a
//   system role, and refusing would break clients that always send one. A system message after
//   the first user turn is refused.
// - Special tokens (`<image>`, `<|end|>`, ...) typed as text are refused: they would inject
//   template structure (an `<image>` in text would claim an image that is not there).
// - What the prompt ends with is chosen as vLLM does: a final user turn plus the generation
//   prompt `<|assistant|>` (generate); a final assistant turn left open with
//   `continue_final_message` (continue it); or, with `add_generation_prompt: false`, a closed final
//   turn (the prompt is scored, e.g. a given answer through `prompt_logprobs`).
import type { ChatImage } from "../images/chat-image.js";
import { parseDataUri } from "../images/data-uri.js";
import { ImageError } from "../images/errors.js";
import { type ChatMessage, ChatTemplateError, encodeChat } from "../models/chat-template.js";
import { SPECIAL_TOKENS, type Tokenizer } from "../models/tokenizer.js";
import { ApiError, badParam, imageApiError } from "./errors.js";
import type { Message } from "./schema.js";

export interface ImageRef {
  image: ChatImage;
  /** The request field it came from, for errors. */
  source: string;
}

/**
 * - generate: turns end with the user's; the prompt ends with `<|assistant|>`.
 * - continue: turns end with an assistant's, left open; the sample continues it.
 * - closed: the prompt ends with a closed turn. The template's next token would be a role marker,
 *   which the model never generates, so the completion is empty (finish_reason "stop"); such a
 *   request is for `prompt_logprobs`.
 */
export type PromptMode = "generate" | "continue" | "closed";

export interface Conversation {
  turns: ChatMessage[];
  images: ImageRef[];
  mode: PromptMode;
}

export interface ConversationOptions {
  add_generation_prompt: boolean;
  continue_final_message: boolean;
  maxImages: number;
}

function checkText(text: string, param: string): string {
  const special = SPECIAL_TOKENS.find((t) => text.includes(t));
  if (special !== undefined) {
    throw badParam(param, `text may not hold the special token ${special} (send images as image_url parts)`);
  }
  return text;
}

/** The text of a message, with `<image>` markers where its images were, and its images. */
function flatten(m: Message, where: string, images: ImageRef[]): string {
  const content = m.content ?? "";
  if (typeof content === "string") return checkText(content, `${where}.content`);
  const pieces: string[] = [];
  content.forEach((part, j) => {
    const param = `${where}.content[${j}]`;
    if (part.type === "text") pieces.push(checkText(part.text, `${param}.text`));
    else {
      const source = `${param}.image_url.url`;
      try {
        images.push({ image: parseDataUri(part.image_url.url, source), source });
      } catch (error) {
        throw error instanceof ImageError ? imageApiError(error) : error;
      }
      pieces.push("<image>");
    }
  });
  return pieces.join(" ");
}

/** Converts and checks messages; every problem is a 400 naming the field. */
export function toConversation(messages: Message[], options: ConversationOptions): Conversation {
  const images: ImageRef[] = [];
  const system: string[] = [];
  const turns: ChatMessage[] = [];
  messages.forEach((m, i) => {
    const where = `messages[${i}]`;
    const text = flatten(m, where, images);
    if (m.role === "system" || m.role === "developer") {
      if (turns.length > 0) throw badParam(where, `a ${m.role} message must come before the first user message`);
      system.push(text);
      return;
    }
    const expected = turns.length % 2 === 0 ? "user" : "assistant";
    if (m.role !== expected) {
      throw badParam(
        `${where}.role`,
        `is "${m.role}" where "${expected}" was expected: turns must alternate user/assistant, user first`,
      );
    }
    turns.push({ role: m.role, content: text });
  });
  if (turns.length === 0) throw badParam("messages", "no user message");
  if (system.length > 0) turns[0] = { role: "user", content: [...system, turns[0].content].join("\n\n") };
  if (images.length > options.maxImages) {
    throw new ApiError(
      400,
      `messages: ${images.length} images, but at most ${options.maxImages} per request are accepted`,
      "messages",
      "too_many_images",
    );
  }
  return { turns, images, mode: promptMode(turns, options) };
}

function promptMode(turns: ChatMessage[], o: ConversationOptions): PromptMode {
  const last = turns[turns.length - 1].role;
  if (o.continue_final_message) {
    if (o.add_generation_prompt) {
      throw badParam("continue_final_message", "cannot be true together with add_generation_prompt", "invalid_value");
    }
    if (last !== "assistant") throw badParam("continue_final_message", "the last message must be the assistant's");
    return "continue";
  }
  if (!o.add_generation_prompt) return "closed";
  if (last === "assistant") {
    throw badParam(
      "messages",
      "the last message is the assistant's: set add_generation_prompt to false to score it, " +
        "or continue_final_message to true to continue it",
    );
  }
  return "generate";
}

/** The prompt's ids exactly as the model sees them (image markers expanded), per mode. */
export function promptIds(tokenizer: Tokenizer, conv: Conversation, numImageTokens: number): number[] {
  try {
    if (conv.mode === "generate") {
      return encodeChat(tokenizer, conv.turns, { numImageTokens, addGenerationPrompt: true }).inputIds;
    }
    const ids = encodeChat(tokenizer, conv.turns, { numImageTokens, addGenerationPrompt: false }).inputIds;
    // An open final turn: the template without its closing <|end|>. This equals generate()'s
    // prompt for the earlier turns plus the final content as assistantPrefix.
    return conv.mode === "continue" ? ids.slice(0, -1) : ids;
  } catch (error) {
    if (error instanceof ChatTemplateError) throw badParam("messages", error.message);
    throw error;
  }
}
