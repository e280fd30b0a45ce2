// Batches of token sequences of different lengths for the embedded VLM: rows padded into one
// (B, T) batch with a key mask (false on padding), and the one padded forward pass that every
// caller uses, giving per row the logits of its unpadded sequence (vlm.ts, Padding). Generation
// and scoring left-pad, so that every row's last token sits in the last column; training
// right-pads (src/train/collate.ts). Generation's steppers are here too: how the running rows of
// a batch advance one token per step, with a KV cache (generate) or by recomputing every row's
// whole sequence (generateNoCache, the cache's reference). Rows that finish leave the batch
// (their cache rows are dropped). The cache's buffers keep spare columns and each step writes its
// token into them in place (layers.ts, LayerCache), growing them by half when full: a step costs
// O(rows) in cache writes, not a copy of every row's past.
import { cat, keep, noGrad, ones, type Tensor, tensorFrom, tidy } from "../engine/index.js";
import type { LayerCache, VLM } from "./vlm.js";

export class GenerateError extends Error {
  override name = "GenerateError";
}

// --- masks and positions ---------------------------------------------------------------------

/** Position ids (B, T) int64 = cumsum(keyMask) - 1, clamped at 0 on left padding. */
export function positionIds(keyMask: Tensor): Tensor {
  return keyMask.to("int64").cumsum(1).sub(1).clamp(0);
}

/**
 * Attention mask (B, 1, Tq, Tk) for the last Tq of Tk positions: causal, keys limited to
 * keyMask (B, Tk), and each query allowed its own position (see the header on NaNs).
 */
export function causalMask(keyMask: Tensor, tq: number): Tensor {
  const tk = keyMask.size(1);
  const causal = ones([tq, tk], "bool").tril(tk - tq); // (Tq, Tk)
  const self = causal.triu(tk - tq); // the diagonal of the last Tq positions
  return causal.unsqueeze(0).and(keyMask.unsqueeze(1)).or(self.unsqueeze(0)).unsqueeze(1);
}

// --- batches of prompts ------------------------------------------------------------------------

/** Token sequences padded into one batch, with the images of the rows that have one. */
export interface PaddedBatch {
  ids: Tensor; // (B, T) int64
  keyMask: Tensor; // (B, T) bool
  pixels: Tensor | null; // (B_img, 3, H, W), rows with an image in order
}

/** Left-pads seqs (pad id) and stacks the non-null images (each checked against the model). */
export function leftPadBatch(
  model: VLM,
  padId: number,
  seqs: number[][],
  images: (Float32Array | null)[],
): PaddedBatch {
  const B = seqs.length;
  const T = Math.max(...seqs.map((s) => s.length));
  const ids = new BigInt64Array(B * T).fill(BigInt(padId));
  const mask = new Uint8Array(B * T);
  seqs.forEach((s, b) => {
    const off = b * T + T - s.length;
    s.forEach((id, t) => {
      ids[off + t] = BigInt(id);
      mask[off + t] = 1;
    });
  });
  const S = model.config.vision.imageSize;
  const withImage = images.filter((im): im is Float32Array => im !== null);
  let pixels: Tensor | null = null;
  if (withImage.length > 0) {
    const data = new Float32Array(withImage.length * 3 * S * S);
    for (const [i, im] of withImage.entries()) data.set(im, i * 3 * S * S);
    pixels = tensorFrom(data, [withImage.length, 3, S, S]);
  }
  return { ids: tensorFrom(ids, [B, T]), keyMask: tensorFrom(mask, [B, T]), pixels };
}

/** Checks a request's image and that its prompt holds image tokens exactly when it has an image. */
export function checkImage(
  model: VLM,
  image: Float32Array | null,
  prompt: number[],
  imageId: number,
  where: string,
): void {
  const S = model.config.vision.imageSize;
  const marked = prompt.includes(imageId);
  if (image === null) {
    if (marked) throw new GenerateError(`${where}: the messages hold an <image> marker but image is null`);
    return;
  }
  if (!(image instanceof Float32Array) || image.length !== 3 * S * S) {
    throw new GenerateError(
      `${where}.image: expected a Float32Array of 3*${S}*${S} = ${3 * S * S} values, got ${image?.length}`,
    );
  }
  if (!marked) throw new GenerateError(`${where}: an image was given but the messages hold no <image> marker`);
  const count = prompt.filter((id) => id === imageId).length;
  if (count !== model.numImageTokens) {
    throw new GenerateError(
      `${where}: the messages hold ${count / model.numImageTokens} <image> markers; one image fits one marker`,
    );
  }
}

/** The forward pass over a padded batch, left or right padded: logits (B, T, V) (or fewer columns) and caches. */
export function paddedForward(
  model: VLM,
  batch: PaddedBatch,
  options: { lastOnly?: boolean; logitsFrom?: number; training?: boolean } = {},
): { logits: Tensor; caches: LayerCache[] } {
  const T = batch.ids.size(1);
  return model.decode({
    embeds: model.embed(batch.ids, batch.pixels),
    positions: positionIds(batch.keyMask),
    mask: causalMask(batch.keyMask, T),
    ...options,
  });
}

// --- generation steppers --------------------------------------------------------------------------

/** Produces next-token logits (B_active, V) for the rows still running. */
export interface Stepper {
  /** Logits after the prompts. */
  start(): Tensor;
  /** Drops the rows not in keep (indices into the current rows), appends tokens (one per kept row). */
  advance(keep: number[], tokens: number[]): Tensor;
  dispose(): void;
}

/** Keeps every tensor of a step result alive past scopes (the caller disposes it). */
function keepAll<T extends { logits: Tensor; caches: LayerCache[] }>(r: T): T {
  keep(r.logits);
  for (const c of r.caches) keep([c.k, c.v]);
  return r;
}

function disposeCaches(caches: LayerCache[]): void {
  for (const c of caches) {
    c.k.dispose();
    c.v.dispose();
  }
}

/** Makes the stepper of the rows of one call: each row's prompt, and the request it samples for. */
export type MakeStepper = (prompts: number[][], rowRequest: number[]) => Stepper;

/** The KV-cache stepper over requests whose images are `images`: each step runs only the new token of every row. */
export function cachedStepper(model: VLM, padId: number, images: (Float32Array | null)[]): MakeStepper {
  return (prompts: number[][], rowRequest: number[]): Stepper => {
    let caches: LayerCache[] = [];
    let keyMask: Tensor | null = null; // (B, T_so_far) bool
    let nextPos: number[] = []; // position id of each row's next token
    return {
      start() {
        const r = noGrad(() =>
          tidy(() => {
            const batch = leftPadBatch(model, padId, prompts, images);
            const out = paddedForward(model, batch, { lastOnly: true });
            // One prompt run per request; its n rows share copies of its cache.
            const index = tensorFrom(BigInt64Array.from(rowRequest, BigInt), [rowRequest.length]);
            return keepAll({
              logits: out.logits.reshape([prompts.length, -1]).indexSelect(0, index),
              caches: out.caches.map((c) => ({ k: c.k.indexSelect(0, index), v: c.v.indexSelect(0, index) })),
              keyMask: keep(batch.keyMask.indexSelect(0, index)),
            });
          }),
        );
        caches = r.caches;
        keyMask = r.keyMask;
        nextPos = rowRequest.map((q) => prompts[q].length);
        return r.logits;
      },
      advance(keepIdx, tokens) {
        const previous = { caches, keyMask: keyMask as Tensor };
        const r = noGrad(() =>
          tidy(() => {
            const B = previous.keyMask.size(0);
            let past = previous.caches;
            let mask = previous.keyMask;
            if (keepIdx.length < B) {
              const index = tensorFrom(BigInt64Array.from(keepIdx, BigInt), [keepIdx.length]);
              past = past.map((c) => ({
                k: c.k.indexSelect(0, index),
                v: c.v.indexSelect(0, index),
                length: c.length,
              }));
              mask = mask.indexSelect(0, index);
            }
            const b = keepIdx.length;
            mask = cat([mask, ones([b, 1], "bool")], 1);
            nextPos = keepIdx.map((i) => nextPos[i]);
            const ids = tensorFrom(BigInt64Array.from(tokens, BigInt), [b, 1]);
            const out = model.decode({
              embeds: model.embed(ids, null),
              positions: tensorFrom(BigInt64Array.from(nextPos, BigInt), [b, 1]),
              mask: causalMask(mask, 1),
              caches: past,
              // The previous caches are disposed below: the new token is written into their room.
              appendInPlace: true,
              lastOnly: true,
            });
            return keepAll({ logits: out.logits.reshape([b, -1]), caches: out.caches, keyMask: keep(mask) });
          }),
        );
        disposeCaches(previous.caches);
        previous.keyMask.dispose();
        caches = r.caches;
        keyMask = r.keyMask;
        nextPos = nextPos.map((q) => q + 1);
        return r.logits;
      },
      dispose() {
        disposeCaches(caches);
        keyMask?.dispose();
      },
    };
  };
}

/** The reference stepper: recomputes every row's whole sequence at each step (tests only). */
export function uncachedStepper(model: VLM, padId: number, images: (Float32Array | null)[]): MakeStepper {
  return (prompts: number[][], rowRequest: number[]): Stepper => {
    let seqs = rowRequest.map((q) => [...prompts[q]]);
    let rowImages = rowRequest.map((q) => images[q]);
    const logitsOf = () =>
      noGrad(() =>
        tidy(() => {
          const batch = leftPadBatch(model, padId, seqs, rowImages);
          const out = paddedForward(model, batch, { lastOnly: true });
          return keep(out.logits.reshape([seqs.length, -1]));
        }),
      );
    return {
      start: logitsOf,
      advance(keepIdx, tokens) {
        seqs = keepIdx.map((i, j) => [...seqs[i], tokens[j]]);
        rowImages = keepIdx.map((i) => rowImages[i]);
        return logitsOf();
      },
      dispose() {},
    };
  };
}
