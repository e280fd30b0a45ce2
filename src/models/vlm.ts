// The embedded vision-language model, LLaVA-style.
// Liu et al., "Visual Instruction Tuning" (LLaVA, arXiv 2304.08485); reference code
// https://github.com/haotian-liu/LLaVA (llava/model/llava_arch.py) and Hugging Face's
// LlavaForConditionalGeneration. A ViT encodes the image into patch features, a two-layer MLP
// projector (LLaVA-1.5's "mlp2x_gelu") maps them into the decoder's embedding space, and they
// replace the embeddings of the `<image>` tokens of the prompt, in order. The decoder is
// Llama-style (pre-norm RMSNorm, rotary positions, SwiGLU MLP) with an untied lm_head.
//
// Padding: every forward takes a key mask (B, T) and derives position ids = cumsum(mask) - 1, so
// left-padded rows (generation) and right-padded rows (training) give, per row, the logits of the
// unpadded sequence. Padded query rows attend to themselves only (never to nothing: a fully
// masked softmax would make NaNs that leak through 0 * NaN into later layers). The masks, the
// positions and the one padded forward pass are in batching.ts.
import { cat, embedding, Generator, type Tensor, tensorFrom } from "../engine/index.js";
import { paddedForward } from "./batching.js";
import { DecoderBlock, type LayerCache, Linear, type LoraConfig, ParamStore, RMSNorm, rotaryTables } from "./layers.js";
import { LORA_TARGETS, MODULES_TO_SAVE } from "./lora-config.js";
import type { TrainableModel, TrainBatch } from "./trainable.js";
import { numPatches, type VisionConfig, VisionEncoder, validateVisionConfig } from "./vision.js";

export type { LayerCache, LoraConfig } from "./layers.js";

// --- config ----------------------------------------------------------------------------------

export interface DecoderConfig {
  dim: number;
  layers: number;
  heads: number;
  mlpDim: number;
  /** Longest sequence (prompt + image tokens + answer) the model accepts. */
  maxPositions: number;
  ropeBase: number;
}

export interface VLMConfig {
  vision: VisionConfig;
  /** Hidden width of the projector MLP (vision.dim -> projectorHidden -> decoder.dim). */
  projectorHidden: number;
  decoder: DecoderConfig;
  vocabSize: number;
  /** Id of the `<image>` token whose embeddings the image features replace. */
  imageTokenId: number;
  /**
   * Side of the square of neighbouring vision tokens concatenated into one image token before
   * the projector (InternVL's pixel shuffle, Qwen2-VL's patch merger); default 1 (none). At 2
   * the decoder reads a quarter of the tokens, each carrying 4x the channels: the same
   * information for about half of a short caption's training cost.
   */
  tokenMerge?: number;
  /**
   * The tower's per-patch readout heads (name -> number of classes), e.g. { thing: 12, color:
   * 10 }: each head's softmax joins the patch's features before the merge and the projector.
   * The heads are the vision tagger's own (trained densely on every patch, they read existence
   * at 0.84 where a projector learning from captions and questions alone reached 0.74), frozen
   * with the tower. Absent: the projector reads the features alone, as LLaVA's does.
   */
  readout?: Record<string, number>;
}

/** The default size: 32x32 images in 4x4 patches (64 image tokens), a 4-layer 256-wide decoder. */
export const DEFAULT_VLM_CONFIG: VLMConfig = {
  vision: { imageSize: 32, patchSize: 4, dim: 128, layers: 2, heads: 4, mlpDim: 512 },
  projectorHidden: 256,
  decoder: { dim: 256, layers: 4, heads: 4, mlpDim: 1024, maxPositions: 512, ropeBase: 10000 },
  vocabSize: 1024, // set from the tokenizer: { ...DEFAULT_VLM_CONFIG, vocabSize: tokenizer.vocabSize }
  imageTokenId: 4, // the tokenizer's `<image>`
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fields(raw: unknown, where: string, known: readonly string[]): Record<string, unknown> {
  if (!isObject(raw)) throw new ConfigError(`${where}: expected an object, got ${JSON.stringify(raw)}`);
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) throw new ConfigError(`${where}.${key}: unknown field (known: ${known.join(", ")})`);
  }
  return raw;
}

function int(o: Record<string, unknown>, key: string, where: string, min = 1): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new ConfigError(`${where}.${key}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Validates a VLM config (e.g. a parsed config.json); errors name the offending field. */
export function parseVLMConfig(raw: unknown, where = "config"): VLMConfig {
  const o = fields(raw, where, [
    "vision",
    "projectorHidden",
    "decoder",
    "vocabSize",
    "imageTokenId",
    "tokenMerge",
    "readout",
  ]);
  const v = fields(o.vision, `${where}.vision`, ["imageSize", "patchSize", "dim", "layers", "heads", "mlpDim", "stem"]);
  const vision: VisionConfig = {
    imageSize: int(v, "imageSize", `${where}.vision`),
    patchSize: int(v, "patchSize", `${where}.vision`),
    dim: int(v, "dim", `${where}.vision`),
    layers: int(v, "layers", `${where}.vision`),
    heads: int(v, "heads", `${where}.vision`),
    mlpDim: int(v, "mlpDim", `${where}.vision`),
  };
  // Absent in checkpoints written before the conv stem existed: those used the patch stem.
  if (v.stem !== undefined) vision.stem = v.stem as VisionConfig["stem"];
  try {
    validateVisionConfig(vision, `${where}.vision`);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const dw = `${where}.decoder`;
  const d = fields(o.decoder, dw, ["dim", "layers", "heads", "mlpDim", "maxPositions", "ropeBase"]);
  const decoder: DecoderConfig = {
    dim: int(d, "dim", dw),
    layers: int(d, "layers", dw),
    heads: int(d, "heads", dw),
    mlpDim: int(d, "mlpDim", dw),
    maxPositions: int(d, "maxPositions", dw),
    ropeBase: typeof d.ropeBase === "number" && d.ropeBase > 1 ? d.ropeBase : Number.NaN,
  };
  if (Number.isNaN(decoder.ropeBase))
    throw new ConfigError(`${dw}.ropeBase: expected a number > 1, got ${JSON.stringify(d.ropeBase)}`);
  if (decoder.dim % decoder.heads !== 0 || (decoder.dim / decoder.heads) % 2 !== 0) {
    throw new ConfigError(
      `${dw}.heads: dim ${decoder.dim} / heads ${decoder.heads} must be an even integer (rotary pairs)`,
    );
  }
  const vocabSize = int(o, "vocabSize", where);
  const imageTokenId =
    o.imageTokenId === undefined ? DEFAULT_VLM_CONFIG.imageTokenId : int(o, "imageTokenId", where, 0);
  if (imageTokenId >= vocabSize)
    throw new ConfigError(`${where}.imageTokenId: ${imageTokenId} is outside the vocabulary (${vocabSize})`);
  const tokenMerge = o.tokenMerge === undefined ? 1 : int(o, "tokenMerge", where);
  const grid = vision.imageSize / vision.patchSize;
  if (grid % tokenMerge !== 0) {
    throw new ConfigError(`${where}.tokenMerge: ${tokenMerge} does not divide the ${grid}x${grid} grid of patches`);
  }
  const imageTokens = numPatches(vision) / tokenMerge ** 2;
  if (imageTokens > decoder.maxPositions) {
    throw new ConfigError(`${dw}.maxPositions: ${decoder.maxPositions} cannot hold the ${imageTokens} image tokens`);
  }
  const config: VLMConfig = {
    vision,
    projectorHidden: int(o, "projectorHidden", where),
    decoder,
    vocabSize,
    imageTokenId,
  };
  // Written only when used, so that configs from before the option read and write unchanged.
  if (tokenMerge !== 1) config.tokenMerge = tokenMerge;
  if (o.readout !== undefined) config.readout = parseReadout(o.readout, `${where}.readout`);
  return config;
}

function parseReadout(raw: unknown, where: string): Record<string, number> {
  if (!isObject(raw) || Object.keys(raw).length === 0)
    throw new ConfigError(`${where}: expected an object of head name -> class count, got ${JSON.stringify(raw)}`);
  const out: Record<string, number> = {};
  for (const name of Object.keys(raw)) {
    if (!/^[a-z][a-z0-9_]*$/.test(name))
      throw new ConfigError(`${where}.${name}: head names are lower-case identifiers`);
    out[name] = int(raw, name, where, 2);
  }
  return out;
}

/** Channels per vision token the projector's merge reads: the tower's features and the readout's classes. */
export function visionTokenChannels(config: VLMConfig): number {
  const classes = Object.values(config.readout ?? {}).reduce((a, b) => a + b, 0);
  return config.vision.dim + classes;
}

// --- the model -------------------------------------------------------------------------------

/** Inputs of the decoder below the embedding layer (generation steps use it with caches). */
export interface DecoderInput {
  /** (B, T, C) input embeddings. */
  embeds: Tensor;
  /** (B, T) int64 position ids. */
  positions: Tensor;
  /** (B, 1, T, T_past + T) bool, true where attending is allowed. */
  mask: Tensor;
  /** One cache per layer from the previous call, or null for a fresh sequence. */
  caches?: LayerCache[] | null;
  /**
   * Append to `caches` in place (inference only; layers.ts, AttentionInput.appendInPlace): the
   * returned caches share their buffers and `caches` must not be used again.
   */
  appendInPlace?: boolean;
  /** Only the last position's logits (B, 1, V): enough to sample the next token. */
  lastOnly?: boolean;
  /** Logits only from this column on (B, T - logitsFrom, V): scoring skips the prompt's. */
  logitsFrom?: number;
  training?: boolean;
}

export class VLM implements TrainableModel {
  readonly config: VLMConfig;
  readonly store: ParamStore;
  readonly vision: VisionEncoder;
  readonly projector: { fc1: Linear; fc2: Linear };
  /** The tower's readout heads (config.readout), under `vision.readout.<name>`. */
  readonly readout: Map<string, Linear>;
  readonly embedTokens: Tensor;
  readonly layers: DecoderBlock[];
  readonly norm: RMSNorm;
  readonly lmHead: Linear;
  /** The adapters' config once addLora() ran, until mergeLora(). */
  lora: LoraConfig | null = null;
  /** Draws LoRA dropout masks in training. */
  readonly dropoutGen: Generator;
  #visionFrozen = false;

  constructor(config: VLMConfig, options: { seed?: number } = {}) {
    this.config = parseVLMConfig(config);
    const seed = options.seed ?? 0;
    this.store = new ParamStore(new Generator(seed));
    this.dropoutGen = new Generator(seed + 1);
    const { vision, decoder: d } = this.config;
    const s = this.store;
    this.vision = new VisionEncoder(s, "vision", vision);
    this.readout = new Map(
      Object.entries(this.config.readout ?? {}).map(([name, classes]) => [
        name,
        new Linear(s, `vision.readout.${name}`, vision.dim, classes, { bias: true }),
      ]),
    );
    const channels = visionTokenChannels(this.config) * this.merge ** 2;
    this.projector = {
      fc1: new Linear(s, "projector.fc1", channels, this.config.projectorHidden, { bias: true }),
      fc2: new Linear(s, "projector.fc2", this.config.projectorHidden, d.dim, { bias: true }),
    };
    this.embedTokens = s.create("decoder.embed_tokens.weight", [this.config.vocabSize, d.dim], {
      kind: "normal",
      std: 0.02,
    });
    this.layers = Array.from(
      { length: d.layers },
      (_, i) => new DecoderBlock(s, `decoder.layers.${i}`, d.dim, d.heads, d.mlpDim),
    );
    this.norm = new RMSNorm(s, "decoder.norm", d.dim);
    this.lmHead = new Linear(s, "lm_head", d.dim, this.config.vocabSize);
  }

  /** Vision tokens merged per side into one image token (config.tokenMerge). */
  get merge(): number {
    return this.config.tokenMerge ?? 1;
  }

  /** Image tokens per image: one per patch, or per merged square of patches. */
  get numImageTokens(): number {
    return numPatches(this.config.vision) / this.merge ** 2;
  }

  /** Every parameter by checkpoint key (LoRA's included). */
  get parameters(): Map<string, Tensor> {
    return this.store.params;
  }

  /** The base weights (no LoRA tensors), as model.safetensors holds them. */
  baseParameters(): Map<string, Tensor> {
    return new Map([...this.store.params].filter(([name]) => !isLoraKey(name)));
  }

  /** The adapters' tensors by module path + `.lora_A.weight` / `.lora_B.weight`. */
  loraParameters(): Map<string, Tensor> {
    return new Map([...this.store.params].filter(([name]) => isLoraKey(name)));
  }

  /**
   * What the optimizer updates: only the adapters when there are some, else every weight but
   * the vision tower's while it is frozen (LLaVA trains its projector and decoder, not CLIP).
   */
  trainableParameters(): Map<string, Tensor> {
    if (this.lora !== null) {
      const saved = savedModuleKeys(this.lora).map((key) => [key, this.savedModule(key)] as const);
      return new Map([...this.loraParameters(), ...saved]);
    }
    return new Map([...this.store.params].filter(([name]) => !(this.visionFrozen && isVisionKey(name))));
  }

  /** A base weight by checkpoint key (a module LoRA's modulesToSave trains whole). */
  private savedModule(key: string): Tensor {
    const t = this.store.params.get(key);
    if (t === undefined) throw new Error(`VLM: no parameter ${key}`);
    return t;
  }

  /** True while the vision tower is frozen (setVisionFrozen). */
  get visionFrozen(): boolean {
    return this.#visionFrozen;
  }

  /** Freezes (or unfreezes) the vision tower: no gradients flow into it, the optimizer skips it. */
  setVisionFrozen(frozen: boolean): void {
    this.#visionFrozen = frozen;
    if (this.lora !== null) return; // adapters only train; mergeLora restores the rest
    for (const [name, t] of this.store.params) if (isVisionKey(name)) t.requiresGrad_(!frozen);
  }

  /** The decoder's linear layers (LoRA's targets). */
  decoderLinears(): Linear[] {
    return this.layers.flatMap((l) => l.linears());
  }

  /** Image features projected into the decoder's space: pixels (B, 3, H, W) -> (B, N, C). */
  encodeImages(pixels: Tensor): Tensor {
    let feats = this.vision.forward(pixels); // (B, N, Cv)
    if (this.readout.size > 0) {
      // Probabilities, not logits: bounded inputs the projector reads as "this patch shows a star".
      feats = cat([feats, ...[...this.readout.values()].map((head) => head.forward(feats).softmax(-1))], -1);
    }
    const t = this.merge;
    if (t > 1) {
      const [B, , Cv] = feats.shape;
      const g = this.config.vision.imageSize / this.config.vision.patchSize;
      feats = feats
        .reshape([B, g / t, t, g / t, t, Cv])
        .permute([0, 1, 3, 2, 4, 5]) // (B, g/t, g/t, t, t, Cv): each merged square's tokens together
        .reshape([B, (g / t) ** 2, t * t * Cv]); // (B, N / t^2, t^2 Cv)
    }
    return this.projector.fc2.forward(this.projector.fc1.forward(feats).gelu()); // (B, N / t^2, C)
  }

  /**
   * Input embeddings (B, T, C): token embeddings, with the `<image>` positions of each row that
   * has any replaced by its image's features. The rows holding `<image>` ids take the images of
   * pixels (B_img, 3, H, W) in order; each such row must hold exactly numImageTokens of them.
   */
  embed(inputIds: Tensor, pixels: Tensor | null): Tensor {
    const [B, T] = inputIds.shape;
    const C = this.config.decoder.dim;
    const ids = inputIds.toArray();
    for (const id of ids) {
      if (id < 0 || id >= this.config.vocabSize)
        throw new RangeError(`VLM.embed: token id ${id} is outside the vocabulary (${this.config.vocabSize})`);
    }
    const text = embedding(this.embedTokens, inputIds); // (B, T, C)
    const imageId = this.config.imageTokenId;
    const N = this.numImageTokens;
    const imageRows: number[] = [];
    for (let b = 0; b < B; b++) {
      let count = 0;
      for (let t = 0; t < T; t++) if (ids[b * T + t] === imageId) count++;
      if (count === 0) continue;
      if (count !== N) {
        throw new RangeError(`VLM.embed: row ${b} holds ${count} <image> tokens; an image takes exactly ${N}`);
      }
      imageRows.push(b);
    }
    const given = pixels === null ? 0 : pixels.size(0);
    if (imageRows.length !== given) {
      throw new RangeError(`VLM.embed: ${imageRows.length} rows hold <image> tokens but ${given} images were given`);
    }
    if (pixels === null || given === 0) return text;
    const feats = this.encodeImages(pixels); // (B_img, N, C)
    // Gather from [text rows (B*T) ; image rows (B_img*N)]: position p takes its text embedding
    // unless it is the k-th <image> of its row, which takes that row's image feature k.
    const index = new BigInt64Array(B * T);
    imageRows.forEach((b, i) => {
      let k = 0;
      for (let t = 0; t < T; t++) if (ids[b * T + t] === imageId) index[b * T + t] = BigInt(B * T + i * N + k++);
    });
    for (let p = 0; p < B * T; p++) if (ids[p] !== imageId) index[p] = BigInt(p);
    const table = cat([text.reshape([B * T, C]), feats.reshape([given * N, C])], 0);
    return table.indexSelect(0, tensorFrom(index, [B * T])).reshape([B, T, C]);
  }

  /** The decoder over input embeddings: logits (B, T, V) (or fewer columns) and each layer's cache. */
  decode(input: DecoderInput): { logits: Tensor; caches: LayerCache[] } {
    const { decoder: d } = this.config;
    const rope = rotaryTables(input.positions, d.dim / d.heads, d.ropeBase);
    const training = input.training ?? false;
    const caches: LayerCache[] = [];
    let x = input.embeds;
    this.layers.forEach((layer, i) => {
      const r = layer.forward(x, {
        mask: input.mask,
        rope,
        cache: input.caches?.[i] ?? null,
        appendInPlace: input.appendInPlace,
        training,
        gen: training ? this.dropoutGen : undefined,
      });
      x = r.out;
      caches.push(r.cache);
    });
    if (input.lastOnly) x = x.slice(1, -1);
    else if (input.logitsFrom) x = x.slice(1, input.logitsFrom);
    return { logits: this.lmHead.forward(this.norm.forward(x)), caches };
  }

  /** Logits (B, T, V) of a right- (or left-) padded batch; position t predicts token t + 1. */
  forward(batch: TrainBatch, opts: { training?: boolean } = {}): Tensor {
    const [B, T] = batch.inputIds.shape;
    const m = batch.attentionMask.shape;
    if (m[0] !== B || m[1] !== T)
      throw new RangeError(`VLM.forward: attentionMask [${m}] does not match inputIds [${B}, ${T}]`);
    if (T > this.config.decoder.maxPositions) {
      throw new RangeError(`VLM.forward: ${T} tokens exceed decoder.maxPositions ${this.config.decoder.maxPositions}`);
    }
    const keyMask = batch.attentionMask.dtype === "bool" ? batch.attentionMask : batch.attentionMask.ne(0);
    return paddedForward(this, { ids: batch.inputIds, keyMask, pixels: batch.pixelValues }, { training: opts.training })
      .logits;
  }

  // --- LoRA --------------------------------------------------------------------------------

  /**
   * Adds adapters to the decoder linears named in targetModules; the base weights freeze, but for
   * the modules of modulesToSave, which train whole beside the adapters.
   */
  addLora(config: LoraConfig): void {
    if (this.lora !== null) throw new Error("VLM.addLora: the model already has LoRA adapters (mergeLora() first)");
    if (!Number.isInteger(config.r) || config.r < 1)
      throw new RangeError(`lora.r: ${config.r} must be a positive integer`);
    if (!(config.alpha > 0)) throw new RangeError(`lora.alpha: ${config.alpha} must be > 0`);
    if (!(config.dropout >= 0 && config.dropout < 1))
      throw new RangeError(`lora.dropout: ${config.dropout} must be in [0, 1)`);
    if (config.targetModules.length === 0) throw new RangeError("lora.targetModules: empty");
    for (const m of config.targetModules) {
      if (!(LORA_TARGETS as readonly string[]).includes(m)) {
        throw new RangeError(`lora.targetModules: "${m}" is not a decoder linear (${LORA_TARGETS.join(", ")})`);
      }
    }
    for (const m of config.modulesToSave ?? []) {
      if (!(MODULES_TO_SAVE as readonly string[]).includes(m))
        throw new RangeError(`lora.modulesToSave: "${m}" is not one of ${MODULES_TO_SAVE.join(", ")}`);
    }
    for (const t of this.store.params.values()) t.requiresGrad_(false);
    for (const linear of this.decoderLinears()) {
      if (config.targetModules.includes(moduleName(linear.name))) linear.addLora(this.store, config);
    }
    this.lora = {
      ...config,
      targetModules: [...config.targetModules],
      ...(config.modulesToSave === undefined ? {} : { modulesToSave: [...config.modulesToSave] }),
    };
    for (const key of savedModuleKeys(this.lora)) this.savedModule(key).requiresGrad_(true);
  }

  /** Folds every adapter into its base weight (W += alpha/r B A); all weights train again. */
  mergeLora(): void {
    if (this.lora === null) return;
    for (const linear of this.decoderLinears()) linear.mergeLora(this.store);
    this.lora = null;
    for (const [name, t] of this.store.params) t.requiresGrad_(!(this.#visionFrozen && isVisionKey(name)));
  }

  /** Drops the adapters without merging them (the base model as it was before addLora). */
  removeLora(): void {
    if (this.lora === null) return;
    if (savedModuleKeys(this.lora).length > 0)
      throw new Error("VLM.removeLora: modulesToSave trained in place; the base weights cannot be restored");
    for (const linear of this.decoderLinears()) {
      const lora = linear.lora;
      if (lora === null) continue;
      this.store.params.delete(`${linear.name}.lora_A.weight`);
      this.store.params.delete(`${linear.name}.lora_B.weight`);
      lora.a.dispose();
      lora.b.dispose();
      linear.lora = null;
    }
    this.lora = null;
    for (const [name, t] of this.store.params) t.requiresGrad_(!(this.#visionFrozen && isVisionKey(name)));
  }

  /** Turns the adapters off (the base model, e.g. DPO's reference) or back on. */
  setLoraEnabled(enabled: boolean): void {
    for (const linear of this.decoderLinears()) linear.loraEnabled = enabled;
  }

  dispose(): void {
    this.store.dispose();
  }
}

function isVisionKey(name: string): boolean {
  return name.startsWith("vision.");
}

/** The checkpoint keys of the modules a LoRA config trains whole (modulesToSave). */
const SAVED_MODULE_KEYS: Record<(typeof MODULES_TO_SAVE)[number], string> = {
  lm_head: "lm_head.weight",
  embed_tokens: "decoder.embed_tokens.weight",
};

function savedModuleKeys(lora: LoraConfig): string[] {
  return (lora.modulesToSave ?? []).map((m) => SAVED_MODULE_KEYS[m]);
}

function isLoraKey(name: string): boolean {
  return name.endsWith(".lora_A.weight") || name.endsWith(".lora_B.weight");
}

function moduleName(path: string): string {
  return path.slice(path.lastIndexOf(".") + 1);
}
