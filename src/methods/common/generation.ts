// The `generation` block of a method stage that samples from its input model.
import { z } from "zod";

export const GenerationSchema = z
  .object({
    temperature: z.number().min(0).default(0.2).describe("sampling temperature (STIC's released code: 0.2)"),
    maxTokens: z.number().int().min(1).default(128),
    chunkSize: z.number().int().min(1).default(32).describe("items per backend call (and per durable write)"),
  })
  .strict();
