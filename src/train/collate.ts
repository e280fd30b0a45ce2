// Pads tokenized examples into one TrainBatch: right padding, labels -100 on padding, images
// stacked channels-first. A bad example is reported by its index in the batch.
import { tensorFrom } from "../engine/index.js";
import type { TrainBatch } from "../models/trainable.js";
import { IGNORE_INDEX, type TokenizedExample } from "./types.js";

export interface CollateOptions {
  padId: number;
  /** [C, H, W] of every image (C = 3 for RGB). */
  imageShape: readonly [number, number, number];
}

export class CollateError extends Error {
  override name = "CollateError";
}

export function collate(examples: TokenizedExample[], opts: CollateOptions): TrainBatch {
  if (examples.length === 0) throw new CollateError("collate: no examples");
  examples.forEach(checkExample);
  const B = examples.length;
  const T = Math.max(...examples.map((e) => e.inputIds.length));
  const ids = new BigInt64Array(B * T).fill(BigInt(opts.padId));
  const labels = new BigInt64Array(B * T).fill(BigInt(IGNORE_INDEX));
  const mask = new Uint8Array(B * T);
  examples.forEach((e, b) => {
    for (let t = 0; t < e.inputIds.length; t++) {
      ids[b * T + t] = BigInt(e.inputIds[t]);
      labels[b * T + t] = BigInt(e.labels[t]);
      mask[b * T + t] = 1;
    }
  });
  return {
    inputIds: tensorFrom(ids, [B, T]),
    attentionMask: tensorFrom(mask, [B, T]),
    labels: tensorFrom(labels, [B, T]),
    pixelValues: stackImages(examples, opts.imageShape),
  };
}

function checkExample(e: TokenizedExample, i: number): void {
  const n = e.inputIds.length;
  if (n === 0) throw new CollateError(`collate: example ${i} has no tokens`);
  if (e.labels.length !== n) {
    throw new CollateError(`collate: example ${i} has ${n} inputIds but ${e.labels.length} labels`);
  }
  for (let t = 0; t < n; t++) {
    if (!Number.isInteger(e.inputIds[t]) || !Number.isInteger(e.labels[t])) {
      throw new CollateError(`collate: example ${i} holds a non-integer token or label at position ${t}`);
    }
  }
}

/** (B, C, H, W) float32, or null when no example has an image; a mix of both is an error. */
function stackImages(examples: TokenizedExample[], shape: readonly [number, number, number]) {
  const withImage = examples.map((e) => e.image != null);
  if (!withImage.some(Boolean)) return null;
  const missing = withImage.indexOf(false);
  if (missing >= 0) {
    throw new CollateError(`collate: example ${missing} has no image but others in the batch do`);
  }
  const size = shape[0] * shape[1] * shape[2];
  const data = new Float32Array(examples.length * size);
  examples.forEach((e, i) => {
    const img = e.image as Float32Array | Uint8Array;
    if (img.length !== size) {
      throw new CollateError(
        `collate: example ${i} has an image of ${img.length} values, expected [${shape}] = ${size}`,
      );
    }
    if (img instanceof Uint8Array) {
      // Bytes (as cached by world-data.ts) become floats in [0, 1] only for the batch in flight.
      const offset = i * size;
      for (let j = 0; j < size; j++) data[offset + j] = img[j] / 255;
    } else {
      data.set(img, i * size);
    }
  });
  return tensorFrom(data, [examples.length, ...shape]);
}
