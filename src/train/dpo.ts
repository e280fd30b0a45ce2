// DPO training of the embedded VLM (STIC's stage 1, and the other preference methods).
// Each pair is tokenized as the scorer does (src/models/score.ts: the prompt with the generation
// prompt, then the response and its `<|end|>`), so the log-probs trained on are the ones scored.
// A micro-batch of P pairs is one padded batch of 2P rows, chosen first then rejected (TRL's
// concatenated_forward): one forward of the policy, and one of the reference when it is not
// precomputed. The generic Trainer does the rest (accumulation, AdamW, schedule, clipping,
// metrics lines with the rewards/* and logps/* keys, checkpoints, resume).
import { z } from "zod";
import { noGrad, tensorFrom, tidy } from "../engine/index.js";
import type { ChatMessage } from "../models/chat-template.js";
import { splitItem } from "../models/score.js";
import type { Tokenizer } from "../models/tokenizer.js";
import type { TrainBatch } from "../models/trainable.js";
import type { VLM } from "../models/vlm.js";
import { collate } from "./collate.js";
import type { TrainConfigInput } from "./config.js";
import { dpoLoss, type PairLogps, pairLogps, type RejectedLogp } from "./dpo-loss.js";
import type { SftOptions } from "./sft.js";
import { type LossFn, Trainer, type TrainResult } from "./trainer.js";
import { IGNORE_INDEX, type TokenizedExample } from "./types.js";

export interface ReferenceLogps {
  chosen: number;
  rejected: number;
}

export interface DpoExample {
  /** 3*H*W values channels first (floats in [0, 1], or bytes 0..255), or null for text only. */
  image: Float32Array | Uint8Array | null;
  /** The conversation up to and including the user turn the answers reply to. */
  prompt: ChatMessage[];
  chosen: string;
  rejected: string;
  /** The reference model's summed log-probs, for reference: "precomputed" (computeReferenceLogps). */
  reference?: ReferenceLogps;
}

export const DpoOptionsSchema = z
  .object({
    beta: z.number().gt(0).default(0.1).describe("scale of the implicit reward (TRL's and STIC's 0.1)"),
    alpha: z.number().min(0).default(0).describe("STIC's weight of -log π(chosen) (the code's 1/1024); 0 = DPO"),
    reference: z
      .enum(["adapter-off", "precomputed"])
      .default("adapter-off")
      .describe("the reference: the model with its LoRA adapters off, or each example's stored `reference`"),
    rejectedLogp: z
      .enum(["response", "stic-code"])
      .default("response")
      .describe("the rejected side's log-prob: the paper's, or the released STIC code's (see dpo-loss.ts)"),
    dropout: z
      .boolean()
      .default(false)
      .describe(
        "LoRA dropout in the policy's forward; off as in TRL (disable_dropout), so policy = reference at start",
      ),
  })
  .strict();

export type DpoOptions = z.output<typeof DpoOptionsSchema>;
export type DpoOptionsInput = z.input<typeof DpoOptionsSchema>;

export class DpoError extends Error {
  override name = "DpoError";
}

/** Validates DPO options, filling defaults; the error names every bad field. */
export function parseDpoOptions(input: unknown): DpoOptions {
  const result = DpoOptionsSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join(".") || "(options)"}: ${i.message}`);
  throw new DpoError(`invalid DPO options: ${problems.join("; ")}`);
}

// --- tokenization and batches -------------------------------------------------------------------

/** One pair, tokenized: both sequences share the prompt (and the image). */
export interface TokenizedPair {
  chosen: TokenizedExample;
  rejected: TokenizedExample;
  reference?: ReferenceLogps;
}

/** Tokenizes and checks every pair; errors name the example (`examples[3].rejected: ...`). */
export function tokenizeDpo(tokenizer: Tokenizer, model: VLM, examples: readonly DpoExample[]): TokenizedPair[] {
  const imageId = tokenizer.specialIds.image;
  const S = model.config.vision.imageSize;
  const maxPositions = model.config.decoder.maxPositions;
  return examples.map((e, i) => {
    const where = `examples[${i}]`;
    if (!Array.isArray(e.prompt) || e.prompt.length === 0 || e.prompt[e.prompt.length - 1].role !== "user") {
      throw new DpoError(`${where}.prompt must be a conversation ending with the user turn`);
    }
    if (e.image != null && e.image.length !== 3 * S * S) {
      throw new DpoError(`${where}.image: ${e.image.length} values, expected 3*${S}*${S} = ${3 * S * S}`);
    }
    const side = (name: "chosen" | "rejected"): TokenizedExample => {
      const answer = e[name];
      if (typeof answer !== "string") throw new DpoError(`${where}.${name} must be a string`);
      const messages: ChatMessage[] = [...e.prompt, { role: "assistant", content: answer }];
      const { prompt, response } = splitItem(tokenizer, { image: null, messages }, model.numImageTokens, where);
      const images = prompt.filter((id) => id === imageId).length;
      if (images !== (e.image == null ? 0 : model.numImageTokens)) {
        throw new DpoError(
          `${where}: the prompt holds ${images / model.numImageTokens} <image> markers for ${e.image == null ? "no" : "one"} image`,
        );
      }
      if (response.includes(imageId)) throw new DpoError(`${where}.${name} holds an <image> marker`);
      const inputIds = [...prompt, ...response];
      if (inputIds.length > maxPositions) {
        throw new DpoError(`${where}.${name}: ${inputIds.length} tokens exceed decoder.maxPositions ${maxPositions}`);
      }
      // Labels on the last answer only (with its <|end|>), as score.ts scores it, even when the
      // prompt holds earlier assistant turns.
      const labels = [...prompt.map(() => IGNORE_INDEX), ...response];
      return { inputIds, labels, image: e.image };
    };
    return { chosen: side("chosen"), rejected: side("rejected"), reference: e.reference };
  });
}

/** A micro-batch: 2P rows (chosen, then rejected), and the stored reference when it is used. */
export interface DpoBatch {
  batch: TrainBatch;
  pairs: number;
  reference: PairLogps | null;
}

export function collateDpo(
  pairs: TokenizedPair[],
  opts: { padId: number; imageShape: readonly [number, number, number]; withReference: boolean },
): DpoBatch {
  const batch = collate([...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)], opts);
  let reference: PairLogps | null = null;
  if (opts.withReference) {
    const missing = pairs.findIndex((p) => p.reference === undefined);
    if (missing >= 0) throw new DpoError(`collateDpo: pair ${missing} of the batch has no reference log-probs`);
    const values = (side: "chosen" | "rejected") =>
      tensorFrom(
        Float32Array.from(pairs, (p) => p.reference![side]),
        [pairs.length],
      );
    reference = { chosen: values("chosen"), rejected: values("rejected") };
  }
  return { batch, pairs: pairs.length, reference };
}

// --- the loss over the model ----------------------------------------------------------------------

/** The reference's log-probs: the same model with its adapters off, without autograd. */
function adapterOffLogps(model: VLM, batch: TrainBatch, rejectedLogp: RejectedLogp): PairLogps {
  if (model.lora === null) throw new DpoError('reference "adapter-off" needs a model with LoRA adapters (addLora)');
  model.setLoraEnabled(false);
  try {
    // Its own scope: the (2P, T, V) logits go before the policy's forward builds its graph.
    return noGrad(() => tidy(() => pairLogps(model.forward(batch, { training: false }), batch.labels, rejectedLogp)));
  } finally {
    model.setLoraEnabled(true);
  }
}

/** The trainer's lossFn: summed over pairs, with TRL's metrics summed alike. */
export function dpoLossFn(options: DpoOptions): LossFn<VLM, DpoBatch> {
  return (model, b) => {
    let reference = b.reference;
    if (options.reference === "adapter-off") reference = adapterOffLogps(model, b.batch, options.rejectedLogp);
    else if (reference === null) throw new DpoError('reference "precomputed": the batch carries no reference');
    const logits = model.forward(b.batch, { training: options.dropout });
    const policy = pairLogps(logits, b.batch.labels, options.rejectedLogp);
    const r = dpoLoss(policy, reference, options);
    return { loss: r.loss, count: r.count, metrics: r.metrics, tokens: b.batch.attentionMask.sum().item() };
  };
}

// --- entry points ----------------------------------------------------------------------------------

/**
 * The summed log-probs of each example's chosen and rejected answers under the model as it is
 * (adapters as they are, no dropout, no autograd), to store with the pairs once and train with
 * reference: "precomputed". Pass the rejectedLogp the training will use: "stic-code" changes the
 * reference's rejected side too.
 */
export function computeReferenceLogps(
  model: VLM,
  tokenizer: Tokenizer,
  examples: readonly DpoExample[],
  options: { batchSize?: number; rejectedLogp?: RejectedLogp } = {},
): ReferenceLogps[] {
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new DpoError(`computeReferenceLogps: batchSize ${batchSize} must be a positive integer`);
  }
  const rejectedLogp = options.rejectedLogp ?? "response";
  const pairs = tokenizeDpo(tokenizer, model, examples);
  const collateOpts = batchOptions(tokenizer, model, false);
  const out: ReferenceLogps[] = [];
  for (let start = 0; start < pairs.length; start += batchSize) {
    const [chosen, rejected] = noGrad(() =>
      tidy(() => {
        const { batch } = collateDpo(pairs.slice(start, start + batchSize), collateOpts);
        const r = pairLogps(model.forward(batch, { training: false }), batch.labels, rejectedLogp);
        return [r.chosen.toFloat64(), r.rejected.toFloat64()];
      }),
    );
    chosen.forEach((c, i) => {
      out.push({ chosen: c, rejected: rejected[i] });
    });
  }
  return out;
}

export type DpoTrainOptions = SftOptions;

/**
 * Trains the model on preference pairs. With reference "adapter-off" the model must carry LoRA
 * adapters (only they train; the base with them off is the reference); with "precomputed" every
 * example must carry `reference` (any trainable set then works, e.g. full fine-tuning).
 */
export async function trainDpo(
  model: VLM,
  tokenizer: Tokenizer,
  examples: readonly DpoExample[],
  config: TrainConfigInput,
  dpo: DpoOptionsInput = {},
  options: DpoTrainOptions = {},
): Promise<TrainResult> {
  const opts = parseDpoOptions(dpo);
  if (opts.reference === "adapter-off" && model.lora === null) {
    throw new DpoError(
      'reference "adapter-off" needs a model with LoRA adapters (addLora first), or use reference "precomputed"',
    );
  }
  if (opts.reference === "adapter-off" && (model.lora?.modulesToSave ?? []).length > 0) {
    // The saved modules train in place: with the adapters off they are still the trained ones.
    throw new DpoError(
      'reference "adapter-off" is not the base model when lora.modulesToSave trains whole modules; use reference "precomputed"',
    );
  }
  if (opts.reference === "precomputed") checkReferences(examples);
  const trainer = new Trainer<TokenizedPair, DpoBatch, VLM>({
    config,
    model,
    dataset: tokenizeDpo(tokenizer, model, examples),
    collate: (pairs) => collateDpo(pairs, batchOptions(tokenizer, model, opts.reference === "precomputed")),
    lossFn: dpoLossFn(opts),
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

function batchOptions(tokenizer: Tokenizer, model: VLM, withReference: boolean) {
  const S = model.config.vision.imageSize;
  return { padId: tokenizer.specialIds.pad, imageShape: [3, S, S] as const, withReference };
}

/** Every example carries finite reference log-probs; the first that does not is named. */
function checkReferences(examples: readonly DpoExample[]): void {
  examples.forEach((e, i) => {
    if (e.reference === undefined) {
      throw new DpoError(
        `reference "precomputed": examples[${i}] has no reference log-probs (store computeReferenceLogps() with the pairs)`,
      );
    }
    for (const side of ["chosen", "rejected"] as const) {
      if (typeof e.reference[side] !== "number" || !Number.isFinite(e.reference[side])) {
        throw new DpoError(`examples[${i}].reference.${side} is ${e.reference[side]}, expected a finite number`);
      }
    }
  });
}
