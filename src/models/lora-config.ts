// LoRA settings (Hu et al., arXiv 2106.09685) as the VLM takes them (VLM.addLora), and the
// decoder linears that can carry adapters. A recipe stage's `lora` block is this schema with
// the recipes' own defaults for r and alpha (the methods' fine-tuning step).
import { z } from "zod";

/** The decoder linears of the VLM that can carry adapters, by PEFT's target_modules names. */
export const LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;

/**
 * Whole modules that train beside the adapters (PEFT's `modules_to_save`): the output head and the
 * token embeddings, for words the base never produced (STS's held-out species names, whose rows
 * the base's training only ever pushed down; adapters on the linears alone barely move them).
 */
export const MODULES_TO_SAVE = ["lm_head", "embed_tokens"] as const;

export const LoraConfigSchema = z
  .object({
    r: z.number().int().min(1).describe("adapter rank"),
    alpha: z.number().gt(0).describe("the adapter's update is scaled by alpha / r"),
    dropout: z.number().min(0).lt(1).default(0).describe("dropout on the adapter's input, in training"),
    targetModules: z
      .array(z.enum(LORA_TARGETS))
      .min(1)
      .default([...LORA_TARGETS])
      .describe("the decoder linears that get adapters"),
    modulesToSave: z
      .array(z.enum(MODULES_TO_SAVE))
      .optional()
      .describe("PEFT's modules_to_save: modules trained whole beside the adapters (lm_head, embed_tokens)"),
  })
  .strict();
