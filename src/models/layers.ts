// Building blocks shared by the embedded models (vlm.ts, clip.ts): named parameters, linear
// layers with optional LoRA, norms, embeddings, rotary tables, and the two transformer blocks
// (a pre-norm ViT block with LayerNorm + GELU, and a Llama-style decoder block with RMSNorm,
// rotary positions and SwiGLU). Parameter names equal the checkpoint's keys, so a missing or
// mismatched weight is reported by its path.
import {
  arange,
  attention,
  attentionBlock,
  cat,
  dropout,
  type Generator,
  keep,
  layerNorm,
  linear,
  noGrad,
  ones,
  randn,
  rmsNorm,
  rotary,
  swigluFused,
  type Tensor,
  tensor,
  WeightCache,
  zeros,
} from "../engine/index.js";

export type Init = { kind: "normal"; std: number } | { kind: "zeros" } | { kind: "ones" };

/** Owns a model's parameters under their checkpoint names; parameters live outside scopes. */
export class ParamStore {
  readonly params = new Map<string, Tensor>();
  /** Concatenated weights of the fused projections (derived data, freed with the parameters). */
  readonly #caches: WeightCache[] = [];
  constructor(readonly gen: Generator) {}

  /** A cache for a layer's fused weights, freed by dispose(). */
  weightCache(): WeightCache {
    const cache = new WeightCache();
    this.#caches.push(cache);
    return cache;
  }

  create(name: string, shape: number[], init: Init): Tensor {
    if (this.params.has(name)) throw new Error(`ParamStore: parameter ${name} defined twice`);
    const t = noGrad(() => {
      if (init.kind === "zeros") return zeros(shape);
      if (init.kind === "ones") return ones(shape);
      return randn(shape, this.gen).mul(init.std);
    });
    keep(t).requiresGrad_();
    this.params.set(name, t);
    return t;
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
    for (const c of this.#caches) c.dispose();
  }
}

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  /** Module names (last path component, e.g. "q_proj") that receive adapters. */
  targetModules: string[];
  /** Whole modules trained beside the adapters (PEFT's modules_to_save; lora-config.ts). */
  modulesToSave?: ("lm_head" | "embed_tokens")[];
}

/** LoRA adapter state of one linear layer: W x + (alpha / r) * B A dropout(x). */
interface LoraAdapter {
  a: Tensor; // (r, in)
  b: Tensor; // (out, r), zero at init so that the adapted model starts equal to the base
  scale: number;
  dropout: number;
}

export class Linear {
  lora: LoraAdapter | null = null;
  /** When false the adapter is bypassed: the base model (DPO's reference) without copying weights. */
  loraEnabled = true;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    store: ParamStore,
    readonly name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { bias?: boolean; std?: number } = {},
  ) {
    this.weight = store.create(`${name}.weight`, [outFeatures, inFeatures], {
      kind: "normal",
      std: options.std ?? 0.02,
    });
    this.bias = options.bias ? store.create(`${name}.bias`, [outFeatures], { kind: "zeros" }) : null;
  }

  /** True when the adapter takes part in the forward (fused paths then step aside). */
  get adapted(): boolean {
    return this.lora !== null && this.loraEnabled;
  }

  forward(x: Tensor, gen?: Generator, training = false): Tensor {
    const y = linear(x, this.weight, this.bias);
    const lora = this.lora;
    if (lora === null || !this.loraEnabled) return y;
    const h = training && lora.dropout > 0 && gen ? dropout(x, lora.dropout, gen) : x;
    return y.add(linear(linear(h, lora.a), lora.b).mul(lora.scale));
  }

  /** Adds a LoRA adapter (A ~ Kaiming-uniform-like normal, B = 0, as PEFT initializes). */
  addLora(store: ParamStore, config: LoraConfig): void {
    const a = store.create(`${this.name}.lora_A.weight`, [config.r, this.inFeatures], {
      kind: "normal",
      std: 1 / Math.sqrt(this.inFeatures),
    });
    const b = store.create(`${this.name}.lora_B.weight`, [this.outFeatures, config.r], { kind: "zeros" });
    this.lora = { a, b, scale: config.alpha / config.r, dropout: config.dropout };
  }

  /** Folds the adapter into the base weight (W += scale * B A) and removes it. */
  mergeLora(store: ParamStore): void {
    const lora = this.lora;
    if (lora === null) return;
    noGrad(() => {
      const delta = lora.b.matmul(lora.a).mul(lora.scale);
      const merged = this.weight.add(delta);
      this.weight.assign(merged);
      delta.dispose();
      merged.dispose();
    });
    store.params.delete(`${this.name}.lora_A.weight`);
    store.params.delete(`${this.name}.lora_B.weight`);
    lora.a.dispose();
    lora.b.dispose();
    this.lora = null;
  }
}

export class RMSNorm {
  readonly weight: Tensor;
  constructor(
    store: ParamStore,
    name: string,
    dim: number,
    readonly eps = 1e-6,
  ) {
    this.weight = store.create(`${name}.weight`, [dim], { kind: "ones" });
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

export class LayerNorm {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    store: ParamStore,
    name: string,
    dim: number,
    readonly eps = 1e-5,
  ) {
    this.weight = store.create(`${name}.weight`, [dim], { kind: "ones" });
    this.bias = store.create(`${name}.bias`, [dim], { kind: "zeros" });
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** cos and sin tables (B, 1, T, D/2) for rotary embedding at the given positions (B, T) int64. */
export function rotaryTables(positions: Tensor, headDim: number, base = 10000): { cos: Tensor; sin: Tensor } {
  const half = headDim / 2;
  const invFreq = tensor(Array.from({ length: half }, (_, i) => base ** (-(2 * i) / headDim)));
  const freqs = positions.to("float32").unsqueeze(-1).mul(invFreq); // (B, T, D/2)
  return { cos: freqs.cos().unsqueeze(1), sin: freqs.sin().unsqueeze(1) };
}

/** Positions 0..T-1 for every row: (1, T). */
export function positionRange(length: number, offset = 0): Tensor {
  return arange(offset, offset + length).unsqueeze(0);
}

/**
 * Cached keys and values of one attention layer: (B, H, capacity, D) each, of which the first
 * `length` columns hold the past (absent: all of them). Generation's steppers preallocate room
 * and append in place (AttentionInput.appendInPlace); other holders see exact-size tensors.
 */
export interface LayerCache {
  k: Tensor;
  v: Tensor;
  length?: number;
}

/** The columns of a cache that hold the past. */
export const cacheLength = (c: LayerCache): number => c.length ?? c.k.size(2);

export interface AttentionInput {
  /** (B|1, 1, Tq, Tk) bool, true where attending is allowed; null = all allowed. */
  mask: Tensor | null;
  /** Rotary tables for the new positions, or null (no rotary: the ViT). */
  rope: { cos: Tensor; sin: Tensor } | null;
  /** Past keys/values to attend to as well; the updated cache is returned. */
  cache?: LayerCache | null;
  /**
   * Write the new keys and values into `cache`'s buffers in place (inference only, no LoRA
   * adapters active): the returned cache shares them, and `cache` is given up (consumed). Without
   * it the past is copied into new tensors and `cache` stays valid.
   */
  appendInPlace?: boolean;
  training?: boolean;
  gen?: Generator;
}

/** The cache's past columns: itself when it has no spare room, else views of its first `length`. */
function pastColumns(c: LayerCache, length: number): LayerCache {
  if (length === c.k.size(2)) return c;
  return { k: c.k.slice(2, 0, length), v: c.v.slice(2, 0, length), length };
}

export class SelfAttention {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly headDim: number;
  /** Q, K, V weights (and biases) concatenated, reused while no gradient flows. */
  readonly #cache: WeightCache;

  constructor(
    store: ParamStore,
    name: string,
    readonly dim: number,
    readonly heads: number,
    bias: boolean,
  ) {
    if (dim % heads !== 0) throw new Error(`${name}: dim ${dim} is not divisible by ${heads} heads`);
    this.headDim = dim / heads;
    this.q = new Linear(store, `${name}.q_proj`, dim, dim, { bias });
    this.k = new Linear(store, `${name}.k_proj`, dim, dim, { bias });
    this.v = new Linear(store, `${name}.v_proj`, dim, dim, { bias });
    this.o = new Linear(store, `${name}.o_proj`, dim, dim, { bias });
    this.#cache = store.weightCache();
  }

  forward(x: Tensor, input: AttentionInput, options: { fused?: boolean } = {}): { out: Tensor; cache: LayerCache } {
    // Without active adapters the whole attention is one native call with one QKV GEMM.
    const past = input.cache ?? null;
    const pastLength = past === null ? 0 : cacheLength(past);
    if ((options.fused ?? true) && !this.linears().some((l) => l.adapted)) {
      const { q, k, v, o } = this;
      const inPlace = past !== null && (input.appendInPlace ?? false);
      const r = attentionBlock(x, {
        weights: [q.weight, k.weight, v.weight],
        biases: q.bias && k.bias && v.bias ? [q.bias, k.bias, v.bias] : null,
        wo: o.weight,
        bo: o.bias,
        heads: this.heads,
        rope: input.rope,
        past: past === null || inPlace ? past : pastColumns(past, pastLength),
        pastLength: inPlace ? pastLength : null,
        mask: input.mask,
        cache: this.#cache,
      });
      return { out: r.out, cache: { k: r.k, v: r.v, length: pastLength + x.size(1) } };
    }
    const [B, T] = x.shape;
    const split = (t: Tensor) => t.reshape([B, T, this.heads, this.headDim]).transpose(1, 2); // (B, H, T, D)
    let q = split(this.q.forward(x, input.gen, input.training));
    let k = split(this.k.forward(x, input.gen, input.training));
    let v = split(this.v.forward(x, input.gen, input.training));
    if (input.rope) {
      q = rotary(q, input.rope.cos, input.rope.sin);
      k = rotary(k, input.rope.cos, input.rope.sin);
    }
    if (past !== null) {
      const p = pastColumns(past, pastLength);
      k = cat([p.k, k], 2);
      v = cat([p.v, v], 2);
    }
    const y = attention(q, k, v, input.mask).transpose(1, 2).reshape([B, T, this.dim]); // (B, T, C)
    return { out: this.o.forward(y, input.gen, input.training), cache: { k, v } };
  }

  linears(): Linear[] {
    return [this.q, this.k, this.v, this.o];
  }
}

/** Llama-style decoder block: x + attn(rmsnorm(x)), then x + swiglu(rmsnorm(x)). */
export class DecoderBlock {
  readonly inputNorm: RMSNorm;
  readonly attn: SelfAttention;
  readonly postNorm: RMSNorm;
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;
  /** Gate and up weights concatenated, reused while no gradient flows. */
  readonly #cache: WeightCache;

  constructor(store: ParamStore, name: string, dim: number, heads: number, mlpDim: number) {
    this.#cache = store.weightCache();
    this.inputNorm = new RMSNorm(store, `${name}.input_layernorm`, dim);
    this.attn = new SelfAttention(store, `${name}.self_attn`, dim, heads, false);
    this.postNorm = new RMSNorm(store, `${name}.post_attention_layernorm`, dim);
    this.gate = new Linear(store, `${name}.mlp.gate_proj`, dim, mlpDim);
    this.up = new Linear(store, `${name}.mlp.up_proj`, dim, mlpDim);
    this.down = new Linear(store, `${name}.mlp.down_proj`, mlpDim, dim);
  }

  forward(x: Tensor, input: AttentionInput, options: { fused?: boolean } = {}): { out: Tensor; cache: LayerCache } {
    const { out: a, cache } = this.attn.forward(this.inputNorm.forward(x), input, options);
    const h = x.add(a);
    return { out: h.add(this.mlp(this.postNorm.forward(h), input, options.fused ?? true)), cache };
  }

  private mlp(x: Tensor, input: AttentionInput, fused: boolean): Tensor {
    // Without active adapters gate and up run as one GEMM; adapters need each projection's forward.
    if (fused && ![this.gate, this.up, this.down].some((l) => l.adapted)) {
      return swigluFused(x, this.gate.weight, this.up.weight, this.down.weight, this.#cache);
    }
    const g = this.gate.forward(x, input.gen, input.training).silu();
    return this.down.forward(g.mul(this.up.forward(x, input.gen, input.training)), input.gen, input.training);
  }

  linears(): Linear[] {
    return [...this.attn.linears(), this.gate, this.up, this.down];
  }
}

/** Pre-norm ViT block: x + attn(ln(x)), then x + mlp(ln(x)) with a GELU MLP. */
export class EncoderBlock {
  readonly norm1: LayerNorm;
  readonly attn: SelfAttention;
  readonly norm2: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(store: ParamStore, name: string, dim: number, heads: number, mlpDim: number) {
    this.norm1 = new LayerNorm(store, `${name}.norm1`, dim);
    this.attn = new SelfAttention(store, `${name}.attn`, dim, heads, true);
    this.norm2 = new LayerNorm(store, `${name}.norm2`, dim);
    this.fc1 = new Linear(store, `${name}.mlp.fc1`, dim, mlpDim, { bias: true });
    this.fc2 = new Linear(store, `${name}.mlp.fc2`, mlpDim, dim, { bias: true });
  }

  /** x (B, T, C); mask (B|1, 1, T, T) or null for full attention. */
  forward(x: Tensor, mask: Tensor | null = null): Tensor {
    const h = x.add(this.attn.forward(this.norm1.forward(x), { mask, rope: null }).out);
    return h.add(this.fc2.forward(this.fc1.forward(this.norm2.forward(h)).gelu()));
  }
}
