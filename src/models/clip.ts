// CLIP-style image-text scorer: Radford et al., "Learning Transferable Visual Models From
// Natural Language Supervision" (arXiv 2103.00020); reference code github.com/openai/CLIP
// (model.py) and Hugging Face transformers' CLIPModel, whose weight names this file follows
// (`visual_projection`, `text_projection`, `logit_scale`).
//
// Image tower: the shared ViT (vision.ts), mean-pooled over patches (CLIP's ViT pools its class
// token; the shared encoder has none), then a bias-free projection. Text tower: token + learned
// position embeddings, pre-norm encoder blocks with a padding mask, a final LayerNorm, pooled at
// the EOS token (text is `<bos> words <eos>`, padded on the right), then a bias-free projection.
// Departure: CLIP's text transformer is causal; here it is bidirectional with padding keys masked
// out, so a text's embedding still does not depend on its padding or on its batch partners.
// Both embeddings are L2-normalized; logits = exp(logit_scale) * cos, with logit_scale starting at
// log(1/0.07) and clamped at log(100) as CLIP does (there after each optimizer step, here in the
// forward pass, which gives the same logits and also bounds a loaded checkpoint).
import { z } from "zod";
import {
  arange,
  crossEntropy,
  embedding,
  full,
  Generator,
  noGrad,
  type Tensor,
  tensorFrom,
  tidy,
} from "../engine/index.js";
import { EncoderBlock, LayerNorm, Linear, ParamStore } from "./layers.js";
import { VISION_STEMS, VisionEncoder, validateVisionConfig } from "./vision.js";

// --- config ---------------------------------------------------------------------------------

const positiveInt = z.number().int().min(1);

const VisionConfigSchema = z
  .object({
    imageSize: positiveInt.default(32).describe("input images are imageSize x imageSize RGB"),
    patchSize: positiveInt.default(4).describe("side of a square patch; divides imageSize"),
    dim: positiveInt.default(128).describe("width of the vision transformer"),
    layers: positiveInt.default(2).describe("vision transformer blocks"),
    heads: positiveInt.default(4).describe("attention heads; divides dim"),
    mlpDim: positiveInt.default(512).describe("hidden width of each block's MLP"),
    stem: z.enum(VISION_STEMS).default("patch").describe("patch: linear patches; conv: stride-2 convolutions"),
  })
  .strict();

const TextConfigSchema = z
  .object({
    dim: positiveInt.default(128).describe("width of the text transformer"),
    layers: positiveInt.default(2).describe("text transformer blocks"),
    heads: positiveInt.default(4).describe("attention heads; divides dim"),
    mlpDim: positiveInt.default(512).describe("hidden width of each block's MLP"),
    maxLength: z.number().int().min(3).default(48).describe("most tokens of a text, <bos> and <eos> included"),
  })
  .strict();

export const ClipConfigSchema = z
  .object({
    vision: VisionConfigSchema.prefault({}),
    text: TextConfigSchema.prefault({}),
    embedDim: positiveInt.default(128).describe("width of the shared image-text embedding"),
    vocabSize: positiveInt.describe("token vocabulary size (the tokenizer's)"),
  })
  .strict();

export type TextConfig = z.output<typeof TextConfigSchema>;
export type ClipConfig = z.output<typeof ClipConfigSchema>;
export type ClipConfigInput = z.input<typeof ClipConfigSchema>;

export class ClipConfigError extends Error {
  override name = "ClipConfigError";
}

/** Validates a config, filling defaults; the error names every bad field by its path. */
export function parseClipConfig(input: unknown): ClipConfig {
  const result = ClipConfigSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`);
    throw new ClipConfigError(`invalid clip config: ${problems.join("; ")}`);
  }
  const c = result.data;
  try {
    validateVisionConfig(c.vision, "vision");
  } catch (error) {
    throw new ClipConfigError(`invalid clip config: ${(error as Error).message}`);
  }
  if (c.text.dim % c.text.heads !== 0) {
    throw new ClipConfigError(`invalid clip config: text.dim: ${c.text.dim} is not divisible by heads ${c.text.heads}`);
  }
  return c;
}

// --- text tokens ----------------------------------------------------------------------------

/** What the scorer needs of a tokenizer (tokenizer.ts's Tokenizer has it). */
export interface ClipTokenizer {
  encode(text: string): number[];
  readonly vocabSize: number;
  readonly specialIds: { readonly pad: number; readonly bos: number; readonly eos: number };
}

/** A batch of texts: ids (B, T) int64 padded on the right, mask (B, T) bool, true on real tokens. */
export interface TextBatch {
  ids: Tensor;
  mask: Tensor;
}

/** `<bos> words <eos>` per text, words truncated to fit maxLength, padded to the longest text. */
export function tokenizeTexts(tokenizer: ClipTokenizer, texts: string[], maxLength: number): TextBatch {
  const { pad, bos, eos } = tokenizer.specialIds;
  const rows = texts.map((text) => {
    let words = tokenizer.encode(text);
    // Accept tokenizers that already add the markers: strip them, then add exactly one of each.
    if (words[0] === bos) words = words.slice(1);
    if (words[words.length - 1] === eos) words = words.slice(0, -1);
    return [bos, ...words.slice(0, maxLength - 2), eos];
  });
  const T = Math.max(2, ...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * T).fill(BigInt(pad));
  const mask = new Uint8Array(rows.length * T);
  rows.forEach((row, b) => {
    row.forEach((id, t) => {
      ids[b * T + t] = BigInt(id);
      mask[b * T + t] = 1;
    });
  });
  return { ids: tensorFrom(ids, [rows.length, T]), mask: tensorFrom(mask, [rows.length, T]) };
}

/** Checks a text batch before it reaches C++: shapes, dtypes, ids in range, right padding. */
function checkTextBatch(ids: Tensor, mask: Tensor, config: ClipConfig): void {
  if (ids.rank !== 2 || ids.dtype !== "int64") throw new Error(`clip: token ids must be (B, T) int64, got ${ids}`);
  if (mask.dtype !== "bool" || mask.shape.join() !== ids.shape.join()) {
    throw new Error(`clip: mask must be bool of the ids' shape [${ids.shape}], got ${mask}`);
  }
  const [B, T] = ids.shape;
  if (T > config.text.maxLength) throw new Error(`clip: ${T} tokens exceed text.maxLength ${config.text.maxLength}`);
  const m = mask.toArray();
  for (let b = 0; b < B; b++) {
    const row = m.slice(b * T, (b + 1) * T);
    const length = row.indexOf(0) === -1 ? T : row.indexOf(0);
    if (length < 1 || row.slice(length).some((v) => v !== 0)) {
      throw new Error(`clip: mask row ${b} must be a non-empty run of real tokens followed by padding`);
    }
  }
  const v = ids.toArray();
  const bad = v.findIndex((id) => id < 0 || id >= config.vocabSize);
  if (bad !== -1) throw new Error(`clip: token id ${v[bad]} is outside the vocabulary of ${config.vocabSize}`);
}

// --- blocks ---------------------------------------------------------------------------------

/** Transformer over `<bos> words <eos>`, pooled at each text's last real token (its <eos>). */
class TextEncoder {
  readonly embedTokens: Tensor;
  readonly posEmbed: Tensor;
  readonly blocks: EncoderBlock[];
  readonly norm: LayerNorm;

  constructor(
    store: ParamStore,
    name: string,
    readonly config: TextConfig,
    vocabSize: number,
  ) {
    this.embedTokens = store.create(`${name}.embed_tokens.weight`, [vocabSize, config.dim], {
      kind: "normal",
      std: 0.02,
    });
    this.posEmbed = store.create(`${name}.pos_embed`, [1, config.maxLength, config.dim], { kind: "normal", std: 0.01 });
    this.blocks = Array.from(
      { length: config.layers },
      (_, i) => new EncoderBlock(store, `${name}.layers.${i}`, config.dim, config.heads, config.mlpDim),
    );
    this.norm = new LayerNorm(store, `${name}.norm`, config.dim);
  }

  /** ids (B, T) int64, mask (B, T) bool -> pooled features (B, C). */
  forward(ids: Tensor, mask: Tensor): Tensor {
    const [B, T] = ids.shape;
    const C = this.config.dim;
    let x = embedding(this.embedTokens, ids).add(this.posEmbed.slice(1, 0, T)); // (B, T, C)
    // Every query may attend to the real tokens of its own text only: padding keys are masked out.
    const attend = mask.reshape([B, 1, 1, T]).expand([B, 1, T, T]); // (B, 1, T, T)
    for (const block of this.blocks) x = block.forward(x, attend);
    x = this.norm.forward(x);
    const eos = mask.to("int64").sum(1).sub(1).to("int64"); // (B): index of the last real token (sub promotes)
    return x.gather(1, eos.reshape([B, 1, 1]).expand([B, 1, C])).reshape([B, C]); // (B, C)
  }
}

/** x / ||x|| along the last dim (as torch.nn.functional.normalize, eps 1e-12). */
function l2Normalize(x: Tensor): Tensor {
  return x.mul(x.pow(2).sum(-1, true).clamp(1e-24).rsqrt());
}

export const LOGIT_SCALE_INIT = Math.log(1 / 0.07);
export const LOGIT_SCALE_MAX = Math.log(100);

// --- model ----------------------------------------------------------------------------------

export class ClipModel {
  readonly config: ClipConfig;
  readonly store: ParamStore;
  readonly vision: VisionEncoder;
  readonly visualProjection: Linear;
  readonly text: TextEncoder;
  readonly textProjection: Linear;
  readonly logitScale: Tensor; // () scalar, log of the logits' temperature inverse

  /** A freshly initialized model; weights come from the seed (load trained ones with clip-io). */
  constructor(config: ClipConfigInput | ClipConfig, options: { seed?: number } = {}) {
    this.config = parseClipConfig(config);
    const c = this.config;
    this.store = new ParamStore(new Generator(options.seed ?? 0));
    this.vision = new VisionEncoder(this.store, "vision", c.vision);
    this.visualProjection = new Linear(this.store, "visual_projection", c.vision.dim, c.embedDim);
    this.text = new TextEncoder(this.store, "text", c.text, c.vocabSize);
    this.textProjection = new Linear(this.store, "text_projection", c.text.dim, c.embedDim);
    this.logitScale = this.store.create("logit_scale", [], { kind: "zeros" });
    noGrad(() => tidy(() => this.logitScale.assign(full([], LOGIT_SCALE_INIT))));
  }

  /** Parameters under their checkpoint names. */
  parameters(): Map<string, Tensor> {
    return this.store.params;
  }

  /** pixels (B, 3, H, W) in [0, 1] -> unit-norm embeddings (B, E). */
  encodeImages(pixels: Tensor): Tensor {
    return tidy(() => {
      const features = this.vision.forward(pixels).mean(1); // (B, C): mean over patches
      return l2Normalize(this.visualProjection.forward(features));
    });
  }

  /** Token batch (see tokenizeTexts) -> unit-norm embeddings (B, E). */
  encodeTokens(ids: Tensor, mask: Tensor): Tensor {
    checkTextBatch(ids, mask, this.config);
    return tidy(() => l2Normalize(this.textProjection.forward(this.text.forward(ids, mask))));
  }

  /** Texts -> unit-norm embeddings (B, E). */
  encodeTexts(tokenizer: ClipTokenizer, texts: string[]): Tensor {
    if (tokenizer.vocabSize !== this.config.vocabSize) {
      throw new Error(
        `clip: tokenizer has ${tokenizer.vocabSize} tokens, the model's vocabSize is ${this.config.vocabSize}`,
      );
    }
    return tidy(() => {
      const { ids, mask } = tokenizeTexts(tokenizer, texts, this.config.text.maxLength);
      return this.encodeTokens(ids, mask);
    });
  }

  /** Cosine similarities (N, M) of unit-norm image (N, E) and text (M, E) embeddings. */
  similarity(images: Tensor, texts: Tensor): Tensor {
    return images.matmul(texts.transpose(0, 1));
  }

  /** exp(logit_scale), clamped at 100. */
  temperatureInverse(): Tensor {
    return this.logitScale.clamp(0, LOGIT_SCALE_MAX).exp();
  }

  /** logits_per_image (B, B): row i scores image i against every text of the batch. */
  logits(pixels: Tensor, ids: Tensor, mask: Tensor): Tensor {
    return tidy(() =>
      this.similarity(this.encodeImages(pixels), this.encodeTokens(ids, mask)).mul(this.temperatureInverse()),
    );
  }

  /**
   * Symmetric InfoNCE (the paper's Figure 3): pair i is the right answer for image i among the
   * batch's texts and for text i among its images; the two cross-entropies are averaged.
   */
  contrastiveLoss(pixels: Tensor, ids: Tensor, mask: Tensor): Tensor {
    return tidy(() => {
      const logits = this.logits(pixels, ids, mask); // (B, B)
      const labels = arange(0, logits.size(0));
      return crossEntropy(logits, labels)
        .add(crossEntropy(logits.transpose(0, 1), labels))
        .mul(0.5);
    });
  }

  dispose(): void {
    this.store.dispose();
  }
}

// --- scorer ---------------------------------------------------------------------------------

export interface ImageTextPair {
  /** (3, H, W) pixels in [0, 1], channel-major, H = W = vision.imageSize. */
  image: Float32Array;
  text: string;
}

/** A model with its tokenizer: scores images against texts without gradients. */
export class ClipScorer {
  constructor(
    readonly model: ClipModel,
    readonly tokenizer: ClipTokenizer,
    readonly batchSize = 64,
  ) {}

  /** Stacks (3, H, W) images into pixels (B, 3, H, W), checking each one's size. */
  pixels(images: Float32Array[]): Tensor {
    const S = this.model.config.vision.imageSize;
    const n = 3 * S * S;
    const data = new Float32Array(images.length * n);
    images.forEach((image, i) => {
      if (image.length !== n)
        throw new Error(`clip: image ${i} holds ${image.length} values, expected 3x${S}x${S} = ${n}`);
      data.set(image, i * n);
    });
    return tensorFrom(data, [images.length, 3, S, S]);
  }

  /** Cosine similarities [image][text]. */
  similarity(images: Float32Array[], texts: string[]): number[][] {
    const flat = noGrad(() =>
      tidy(() =>
        this.model
          .similarity(this.model.encodeImages(this.pixels(images)), this.model.encodeTexts(this.tokenizer, texts))
          .toArray(),
      ),
    );
    return images.map((_, i) => flat.slice(i * texts.length, (i + 1) * texts.length));
  }

  /** Unit-norm text embeddings (the text tower), one row per text, in batches: STS's InfoNCE. */
  embedTexts(texts: string[]): number[][] {
    const out: number[][] = [];
    const E = this.model.config.embedDim;
    for (let start = 0; start < texts.length; start += this.batchSize) {
      const chunk = texts.slice(start, start + this.batchSize);
      const flat = noGrad(() => tidy(() => this.model.encodeTexts(this.tokenizer, chunk).toArray()));
      for (let i = 0; i < chunk.length; i++) out.push(flat.slice(i * E, (i + 1) * E));
    }
    return out;
  }

  /** Unit-norm image embeddings (the image tower), one row per (3, H, W) image. */
  embedImages(images: Float32Array[]): number[][] {
    const out: number[][] = [];
    const E = this.model.config.embedDim;
    for (let start = 0; start < images.length; start += this.batchSize) {
      const chunk = images.slice(start, start + this.batchSize);
      const flat = noGrad(() => tidy(() => this.model.encodeImages(this.pixels(chunk)).toArray()));
      for (let i = 0; i < chunk.length; i++) out.push(flat.slice(i * E, (i + 1) * E));
    }
    return out;
  }

  /**
   * CLIP score of each pair: 100 * cos(image, text), as CSR's relevance reward uses it. Pairs of
   * a batch that share one image array (CSR scores every sentence of a node against its image)
   * encode it once.
   */
  score(pairs: ImageTextPair[]): number[] {
    const out: number[] = [];
    for (let start = 0; start < pairs.length; start += this.batchSize) {
      const chunk = pairs.slice(start, start + this.batchSize);
      const unique = [...new Set(chunk.map((p) => p.image))];
      const slot = new Map(unique.map((im, i) => [im, i]));
      const cos = noGrad(() =>
        tidy(() => {
          const rows = tensorFrom(
            BigInt64Array.from(chunk, (p) => BigInt(slot.get(p.image) as number)),
            [chunk.length],
          );
          const images = this.model.encodeImages(this.pixels(unique)).indexSelect(0, rows);
          const texts = this.model.encodeTexts(
            this.tokenizer,
            chunk.map((p) => p.text),
          );
          return images.mul(texts).sum(-1).toArray(); // (B): row-wise cosine
        }),
      );
      for (const c of cos) out.push(100 * c);
    }
    return out;
  }
}
