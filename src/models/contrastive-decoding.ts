// Visual contrastive decoding (Leng et al. 2024, VCD, arXiv 2311.16922), the decoding of BPO's
// released image-weakening code (METHODS.md section 2, "Divergence in the released code"): each
// request is run twice, with its image and with a contrast image (BPO: the diffusion-noised copy),
// and the next token is drawn from
//
//   cd = (1 + α) · logit(· | clean) - α · logit(· | contrast),
//   restricted to the tokens whose clean probability is at least β times the clean maximum
//   (VCD's adaptive plausibility constraint, in logit form: logit_clean >= max logit_clean + log β),
//
// The maximum is taken over the tokens generation may draw (sampling.ts bannedMask: special
// tokens are never drawn), so that a banned token cannot set a cut-off no drawable token meets.
// then tempered, top-k/top-p cut and sampled exactly as generate() samples plain logits
// (generateWith, sampling.ts). The returned log-probs are those of the contrasted distribution.
// Both passes keep their own KV cache; rows that finish leave both batches together.
import { keep, noGrad, type Tensor, tidy } from "../engine/index.js";
import { cachedStepper, GenerateError, type MakeStepper } from "./batching.js";
import { type GenerateRequest, generateWith, type Sample } from "./generate.js";
import { bannedMask, type SamplingParams } from "./sampling.js";
import type { Tokenizer } from "./tokenizer.js";
import type { VLM } from "./vlm.js";

export interface ContrastOptions {
  /** Weight of the contrast: 0 = plain decoding of the clean image. */
  alpha: number;
  /** Plausibility cut-off in (0, 1]: tokens below β · (the clean maximum probability) are never drawn. */
  beta: number;
}

/** A request with the image its logits are contrasted against (same prompt, same marker). */
export interface ContrastRequest extends GenerateRequest {
  contrastImage: Float32Array;
}

export function checkContrast(options: ContrastOptions): void {
  if (!(options.alpha >= 0 && Number.isFinite(options.alpha)))
    throw new GenerateError(`contrastive decoding: alpha ${options.alpha} must be a finite number >= 0`);
  if (!(options.beta > 0 && options.beta <= 1))
    throw new GenerateError(`contrastive decoding: beta ${options.beta} must be in (0, 1]`);
}

/**
 * The contrasted logits (B, V) of clean and contrast logits (B, V), the tokens of `banned` (1, V)
 * bool excluded from the cut-off's maximum (they are masked at sampling anyway): a new tensor in
 * the current scope.
 */
export function contrastLogits(clean: Tensor, contrast: Tensor, options: ContrastOptions, banned?: Tensor): Tensor {
  checkContrast(options);
  return tidy(() => {
    const drawable = banned === undefined ? clean : clean.maskedFill(banned, Number.NEGATIVE_INFINITY);
    const cutoff = drawable.max(-1, true).values.add(Math.log(options.beta)); // (B, 1)
    return clean
      .mul(1 + options.alpha)
      .sub(contrast.mul(options.alpha))
      .maskedFill(clean.lt(cutoff), Number.NEGATIVE_INFINITY);
  });
}

/** A stepper over two cached steppers (clean and contrast images) whose logits are contrasted. */
function contrastStepper(
  model: VLM,
  padId: number,
  clean: (Float32Array | null)[],
  contrast: Float32Array[],
  options: ContrastOptions,
  banned: Tensor,
): MakeStepper {
  const makeClean = cachedStepper(model, padId, clean);
  const makeContrast = cachedStepper(model, padId, contrast);
  return (prompts, rowRequest) => {
    const a = makeClean(prompts, rowRequest);
    const b = makeContrast(prompts, rowRequest);
    const combine = (x: Tensor, y: Tensor) => {
      try {
        return keep(contrastLogits(x, y, options, banned));
      } finally {
        x.dispose();
        y.dispose();
      }
    };
    return {
      start: () => combine(a.start(), b.start()),
      advance: (keepIdx, tokens) => combine(a.advance(keepIdx, tokens), b.advance(keepIdx, tokens)),
      dispose() {
        a.dispose();
        b.dispose();
        banned.dispose();
      },
    };
  };
}

/** n samples per request by contrastive decoding; requests with a seed draw as they would alone. */
export function generateContrastive(
  model: VLM,
  tokenizer: Tokenizer,
  requests: ContrastRequest[],
  params: Partial<SamplingParams>,
  options: ContrastOptions,
): Sample[][] {
  checkContrast(options);
  const S = model.config.vision.imageSize;
  requests.forEach((r, i) => {
    if (r.image === null) throw new GenerateError(`requests[${i}]: contrastive decoding needs an image`);
    if (!(r.contrastImage instanceof Float32Array) || r.contrastImage.length !== 3 * S * S)
      throw new GenerateError(
        `requests[${i}].contrastImage: expected a Float32Array of 3*${S}*${S} = ${3 * S * S} values, got ${r.contrastImage?.length}`,
      );
  });
  const stepper = contrastStepper(
    model,
    tokenizer.specialIds.pad,
    requests.map((r) => r.image),
    requests.map((r) => r.contrastImage),
    options,
    noGrad(() => keep(bannedMask(tokenizer, model.config.vocabSize))),
  );
  return generateWith(model, tokenizer, requests, params, stepper);
}
