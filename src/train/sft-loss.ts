// Supervised fine-tuning loss: next-token cross-entropy where the position t predicts token
// t + 1 (logits[:, :-1] against labels[:, 1:]), counting only labels != -100, so prompt, image
// and padding tokens contribute neither loss nor gradient.
import { crossEntropy, type Tensor } from "../engine/index.js";
import type { TrainableModel, TrainBatch } from "../models/trainable.js";
import type { LossOutput } from "./trainer.js";
import { IGNORE_INDEX } from "./types.js";

export interface SftLossResult {
  /** Scalar: the sum over counted tokens, or their mean. */
  loss: Tensor;
  /** How many label positions counted. */
  count: number;
}

/**
 * logits (B, T, V), labels (B, T) int64 aligned with the inputs (not yet shifted).
 * With reduction "mean" and no counted token the loss is the (zero) sum, not 0/0 = NaN.
 */
export function sftLoss(logits: Tensor, labels: Tensor, opts: { reduction: "sum" | "mean" }): SftLossResult {
  const [B, T, V] = logits.shape;
  if (labels.rank !== 2 || labels.size(0) !== B || labels.size(1) !== T) {
    throw new Error(`sftLoss: labels [${labels.shape}] do not match logits [${logits.shape}] (want [${B}, ${T}])`);
  }
  const shiftedLogits = logits.slice(1, 0, T - 1).reshape([B * (T - 1), V]); // (B*(T-1), V)
  const shiftedLabels = labels.slice(1, 1, T).reshape([B * (T - 1)]); // (B*(T-1))
  const sum = crossEntropy(shiftedLogits, shiftedLabels, { ignoreIndex: IGNORE_INDEX, reduction: "sum" });
  const count = shiftedLabels.ne(IGNORE_INDEX).sum().item();
  const loss = opts.reduction === "mean" && count > 0 ? sum.div(count) : sum;
  return { loss, count };
}

/**
 * The trainer's lossFn for SFT: the summed loss (the trainer divides by the total count over
 * the accumulated micro-batches), the counted tokens, and every non-padding token for throughput.
 */
export function sftLossFn(model: TrainableModel, batch: TrainBatch): LossOutput {
  const logits = model.forward(batch, { training: true });
  const { loss, count } = sftLoss(logits, batch.labels, { reduction: "sum" });
  return { loss, count, tokens: batch.attentionMask.sum().item() };
}
