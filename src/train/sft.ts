// Supervised fine-tuning of the embedded VLM: conversations are encoded with the model's chat
// template (loss on assistant tokens only), padded into batches, and trained by the generic
// Trainer (gradient accumulation, AdamW, cosine schedule, clipping, NaN guard, checkpoints).
import type { ChatMessage } from "../models/chat-template.js";
import { encodeChat } from "../models/chat-template.js";
import type { Tokenizer } from "../models/tokenizer.js";
import type { TrainBatch } from "../models/trainable.js";
import type { VLM } from "../models/vlm.js";
import { collate } from "./collate.js";
import type { TrainConfigInput } from "./config.js";
import { sftLossFn } from "./sft-loss.js";
import { Trainer, type TrainerEvent, type TrainResult } from "./trainer.js";
import type { TokenizedExample } from "./types.js";

export interface SftExample {
  /** 3*H*W floats in [0, 1], channels first, or null for a text-only example. */
  image: Float32Array | null;
  messages: ChatMessage[];
}

export function tokenizeSft(tokenizer: Tokenizer, model: VLM, examples: readonly SftExample[]): TokenizedExample[] {
  const numImageTokens = model.numImageTokens;
  return examples.map((e) => {
    const { inputIds, labels } = encodeChat(tokenizer, e.messages, { numImageTokens, addGenerationPrompt: false });
    return { inputIds, labels, image: e.image };
  });
}

export interface SftOptions {
  resume?: boolean;
  onEvent?: (event: TrainerEvent) => void;
  /** Writes the model's own files into each checkpoint (e.g. saveVLM), so a checkpoint is loadable. */
  exportModel?: (dir: string) => void;
  signal?: AbortSignal;
}

export async function trainSft(
  model: VLM,
  tokenizer: Tokenizer,
  examples: readonly SftExample[],
  config: TrainConfigInput,
  options: SftOptions = {},
): Promise<TrainResult> {
  const size = model.config.vision.imageSize;
  const trainer = new Trainer<TokenizedExample, TrainBatch, VLM>({
    config,
    model,
    dataset: tokenizeSft(tokenizer, model, examples),
    collate: (batch) => collate(batch, { padId: tokenizer.specialIds.pad, imageShape: [3, size, size] }),
    lossFn: sftLossFn,
    resume: options.resume,
    onEvent: options.onEvent,
    exportModel: options.exportModel,
  });
  try {
    return await trainer.train({ signal: options.signal });
  } finally {
    trainer.dispose();
  }
}
