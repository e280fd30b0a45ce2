// A tiny untrained VLM whose distributions are peaked (its head scaled by 40), so that greedy
// decoding is meaningful and samples differ by seed; shared by the generation tests.
import { Tokenizer } from "../../src/models/tokenizer.js";
import { VLM } from "../../src/models/vlm.js";

/** The tokenizer the generation tests share. */
export function tinyTokenizer(): Tokenizer {
  return Tokenizer.build([
    "describe the image. what is on the left? a red circle, a blue square and two green stars at the top.",
    "is there a yellow heart in the middle? yes. no. one small cross below a large diamond.",
  ]);
}

/** An 8x8-image VLM over `tokenizer`, its lm head scaled by 40; the caller disposes it. */
export function peakedVlm(tokenizer: Tokenizer, seed: number): VLM {
  const model = new VLM(
    {
      vision: { imageSize: 8, patchSize: 4, dim: 32, layers: 1, heads: 2, mlpDim: 64 },
      projectorHidden: 64,
      decoder: { dim: 64, layers: 2, heads: 4, mlpDim: 128, maxPositions: 96, ropeBase: 10000 },
      vocabSize: tokenizer.vocabSize,
      imageTokenId: tokenizer.specialIds.image,
    },
    { seed },
  );
  model.lmHead.weight.assign(model.lmHead.weight.mul(40));
  return model;
}

/** A seeded 3x8x8 pixel pattern in [0, 1). */
export function pattern(seed: number): Float32Array {
  let s = seed * 7919 + 13;
  return Float32Array.from({ length: 3 * 8 * 8 }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  });
}
