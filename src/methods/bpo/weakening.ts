// BPO's second negative generator, image weakening (METHODS.md section 2, point 2): the policy
// answers the positive's prompt about a diffusion-noised copy of its image (src/images/
// diffusion-noise.ts: 1,000 steps, the sigmoid schedule, t = 900 by default, on the normalized
// pixels: by default CLIP's normalization, the space LLaVA-1.5's processor gives the paper's
// noise, so that the noise has the paper's size relative to the image; in [-1, 1] it is about
// twice as large, and the shipped base read 40 of 40 noised instruction scenes as creatures,
// naming no object: scripts/bpo-probe.ts), sampled at temperature 0.2. With the image mostly gone, what the answer still says
// comes from the language prior. The noise of each positive is drawn from its own stream
// (itemRng(seed, "bpo", "noise:<positive id>")), so a resumed run noises it the same way. The
// noise is added at the image's own resolution (SceneWorld's images are the embedded model's
// input size); a server that shrinks a large photo afterwards averages part of it away, where
// the released code noises the processor's resized tensor.
//
// `decoding: contrastive`, the released code's variant: the clean image is the input and the
// noised one the contrast of visual contrastive decoding ((1 + α)·logit(clean) - α·logit(noisy),
// with VCD's plausibility cut-off β; src/models/contrastive-decoding.ts; the code's defaults
// α = 1, β = 0.2). It needs the full next-token logits at every step, which only the embedded
// backend has; an OpenAI-compatible server returns top log-probs at most, so over HTTP the option
// is refused with an error. Note that this variant suppresses the prior's errors rather than
// eliciting them (METHODS.md), so its answers are closer to the positive.
import { EmbeddedBackend, imageInput, samplingOptions } from "../../backends/embedded.js";
import { requestKey, requestSeed } from "../../backends/seeds.js";
import type {
  GeneratedSample,
  GenerationParams,
  GenerationRequest,
  VisionLanguageModel,
} from "../../backends/types.js";
import type { ChatImage } from "../../images/chat-image.js";
import { diffusionNoise, type PixelNormalize } from "../../images/diffusion-noise.js";
import { type ContrastOptions, generateContrastive } from "../../models/contrastive-decoding.js";

export type WeakeningDecoding = "noisy" | "contrastive";

export interface WeakeningItem {
  id: string;
  /** The positive's id: keys the noise stream. */
  positiveId: string;
  image: ChatImage;
}

/** The noised copy of an item's image and the share of its values clipped back into 8 bits. */
export async function weakenedImage(
  item: WeakeningItem,
  options: { t: number; normalize: PixelNormalize },
  uniform: () => number,
): Promise<{ image: ChatImage; clipped: number }> {
  return diffusionNoise(item.image.bytes, { t: options.t, normalize: options.normalize }, uniform, `item ${item.id}`);
}

export class ContrastiveBackendError extends Error {
  override name = "ContrastiveBackendError";
}

/** Throws unless `backend` can decode contrastively (the embedded backend). */
export function checkContrastiveBackend(backend: VisionLanguageModel): EmbeddedBackend {
  if (backend instanceof EmbeddedBackend) return backend;
  throw new ContrastiveBackendError(
    `weakening.decoding: contrastive needs the model's full next-token logits at every step, which only the embedded backend gives; ${backend.name} does not support it (an OpenAI-compatible server returns top log-probs at most). Use decoding: noisy (the paper's).`,
  );
}

/**
 * Contrastive decoding of `requests` (each with its clean image) against `noisy` (one image per
 * request) on the embedded model, seeded per request as the embedded backend seeds generate().
 */
export async function generateContrastively(
  backend: VisionLanguageModel,
  requests: readonly GenerationRequest[],
  noisy: readonly ChatImage[],
  params: GenerationParams,
  contrast: ContrastOptions,
  batchSize = 32,
): Promise<GeneratedSample[][]> {
  const embedded = checkContrastiveBackend(backend);
  const size = embedded.model.config.vision.imageSize;
  const out: GeneratedSample[][] = [];
  for (let from = 0; from < requests.length; from += batchSize) {
    const batch = [];
    for (let i = from; i < Math.min(from + batchSize, requests.length); i++) {
      const r = requests[i];
      if (r.images.length !== 1) throw new Error(`request ${r.id}: contrastive decoding takes exactly one image`);
      batch.push({
        image: await imageInput(r.images[0], size, `request ${r.id} image`),
        contrastImage: await imageInput(noisy[i], size, `request ${r.id} noised image`),
        messages: r.messages,
        assistantPrefix: r.assistantPrefix,
        seed: params.temperature === 0 ? undefined : requestSeed(params.seed, requestKey(r, i)),
      });
    }
    const samples = generateContrastive(
      embedded.model,
      embedded.tokenizer,
      batch,
      { ...samplingOptions(params), seed: 0 },
      contrast,
    );
    for (const row of samples) {
      out.push(
        row.map((s) => ({
          text: s.text,
          tokens: s.tokenIds.map(String),
          logprobs: params.logprobs ? s.logprobs : null,
          finishReason: s.finishReason,
        })),
      );
    }
  }
  return out;
}
