// The training data's shapes before batching. The model's side of the contract (TrainBatch,
// TrainableModel) is src/models/trainable.ts.

/** One tokenized example before padding. */
export interface TokenizedExample {
  inputIds: number[];
  labels: number[];
  /**
   * 3*H*W floats (channels first), or null / absent for text-only examples. A Uint8Array holds the
   * same layout as bytes 0..255 and is divided by 255 when batched: a quarter of the memory, for
   * datasets that keep every image in memory (train/world-data.ts).
   */
  image?: Float32Array | Uint8Array | null;
}

/** Labels equal to this count for nothing (torch's CrossEntropyLoss default ignore_index). */
export const IGNORE_INDEX = -100;
