// A tiny next-token LM for the trainer's tests: embedding (V, D) -> tanh -> linear (V, D) + bias.
// Each position sees only its own token, so padding never changes the logits of real tokens and
// a batch of 8 equals two batches of 4 up to float rounding.
import { embedding, Generator, keep, linear, randn, type Tensor, tidy, zeros } from "../../src/engine/index.js";
import type { TrainableModel, TrainBatch } from "../../src/models/trainable.js";
import type { TokenizedExample } from "../../src/train/types.js";

export class ToyLM implements TrainableModel {
  readonly weights: Map<string, Tensor>;

  constructor(
    readonly vocab: number,
    readonly dim: number,
    seed: number,
  ) {
    const gen = new Generator(seed);
    this.weights = tidy(
      () =>
        new Map([
          ["embed.weight", keep(randn([vocab, dim], gen).mul(0.5))],
          ["head.weight", keep(randn([vocab, dim], gen).mul(0.5))],
          ["head.bias", keep(zeros([vocab]))],
        ]),
    );
    for (const w of this.weights.values()) w.requiresGrad_(true);
  }

  forward(batch: TrainBatch): Tensor {
    const h = embedding(this.weights.get("embed.weight")!, batch.inputIds).tanh(); // (B, T, D)
    return linear(h, this.weights.get("head.weight")!, this.weights.get("head.bias")!); // (B, T, V)
  }

  trainableParameters(): Map<string, Tensor> {
    return this.weights;
  }

  /** Copies of the weights' values, for comparisons after training. */
  snapshot(): Map<string, Float32Array> {
    return new Map([...this.weights].map(([k, w]) => [k, w.toFloat32()]));
  }

  dispose(): void {
    for (const w of this.weights.values()) w.dispose();
  }
}

/**
 * n examples of a fixed rule (next = (3 * t + 1) mod V) with a 2-token prompt (labels -100)
 * and answers of varying length, so that batches need padding.
 */
export function toyDataset(n: number, vocab: number): TokenizedExample[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 4 + (i % 4);
    const ids = [i % vocab];
    while (ids.length < len) ids.push((3 * ids[ids.length - 1] + 1) % vocab);
    return { inputIds: ids, labels: ids.map((t, j) => (j < 2 ? -100 : t)) };
  });
}
