// A tiny VLM saved to a temporary directory, and small PNG images, for the backend tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChatImage } from "../../src/images/chat-image.js";
import { encodePng } from "../../src/images/codec.js";
import { Tokenizer } from "../../src/models/tokenizer.js";
import { VLM } from "../../src/models/vlm.js";
import { saveVLM } from "../../src/models/vlm-io.js";

export const IMAGE_SIZE = 8;

/** Saves the model to a fresh temp dir; remove() deletes it. */
export function saveTinyVLM(seed = 11): { dir: string; remove: () => void } {
  const tokenizer = Tokenizer.build([
    "describe the image. what is on the left? a red circle, a blue square and two green stars at the top.",
    "is there a yellow heart in the middle? yes. no. one small cross below a large diamond.",
  ]);
  const model = new VLM(
    {
      vision: { imageSize: IMAGE_SIZE, patchSize: 4, dim: 32, layers: 1, heads: 2, mlpDim: 64 },
      projectorHidden: 64,
      decoder: { dim: 64, layers: 2, heads: 4, mlpDim: 128, maxPositions: 96, ropeBase: 10000 },
      vocabSize: tokenizer.vocabSize,
      imageTokenId: tokenizer.specialIds.image,
    },
    { seed },
  );
  // Larger output weights than the default init: peaked distributions, so that greedy decoding
  // is meaningful and samples differ by seed (as in test/models/generate.test.ts).
  model.lmHead.weight.assign(model.lmHead.weight.mul(40));
  const dir = mkdtempSync(join(tmpdir(), "selfsynth-backend-"));
  saveVLM(dir, model, tokenizer);
  model.dispose();
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A PNG of IMAGE_SIZE^2 pseudo-random pixels. */
export async function pngImage(seed: number): Promise<ChatImage> {
  let s = seed * 7919 + 13;
  const data = Uint8Array.from({ length: IMAGE_SIZE * IMAGE_SIZE * 3 }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % 256;
  });
  return { bytes: await encodePng({ width: IMAGE_SIZE, height: IMAGE_SIZE, data }), mimeType: "image/png" };
}
