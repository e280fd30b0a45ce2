// What a model must offer to be trained: the contract between the models and the training code
// (src/train). It lives with the models so that a model satisfies it without importing its
// trainer; the embedded VLM (vlm.ts) implements it, and tests use a toy model with the same face.
import type { Tensor } from "../engine/index.js";

/** One padded micro-batch, as collate() (src/train/collate.ts) builds it. */
export interface TrainBatch {
  /** (B, T) int64; each <image> marker already expanded into the model's image-token count. */
  inputIds: Tensor;
  /** (B, T) bool, false on padding (right-padded). */
  attentionMask: Tensor;
  /** (B, T) int64, -100 where no loss (prompt, image tokens, padding); aligned with inputIds, not shifted. */
  labels: Tensor;
  /** (B, 3, H, W) float32, or null for text-only batches. */
  pixelValues: Tensor | null;
}

export interface TrainableModel {
  /** Logits (B, T, V). */
  forward(batch: TrainBatch, opts?: { training?: boolean }): Tensor;
  /** The tensors the optimizer updates (all weights, or only LoRA's), by checkpoint key. */
  trainableParameters(): Map<string, Tensor>;
}
