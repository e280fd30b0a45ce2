// The vision tagger: the image tower of the VLM (vision.ts) with classification heads, trained
// supervised before the VLM reuses the tower, as ViTs are pretrained on labelled images (ImageNet,
// JFT) and CLIP towers on image-text pairs before LLaVA reads them. On SceneWorld the labels come
// from the scene graphs (src/train/tagger-data.ts); the tower is what ships, the heads are its
// training scaffolding (saved beside it, so the tagger can be evaluated and resumed).
//
// Heads read the patch features (B, N, C) directly or pooled:
//   patches  each patch: (B, N, C), a class per patch (dense tagging, as segmentation labels);
//   cells    a fixed average over the patches that cover each cell of a cells x cells grid
//            (SceneWorld's 3x3 layout): (B, cells^2, C), a class per cell;
//   image    the mean over all patches: (B, 1, C), a class (single) or a set of tags (multi).
// SceneWorld's tagger (src/train/tagger-data.ts) tags patches, not cells: a tower trained on
// cell averages spreads an object's identity over several patch tokens, and a VLM built on it
// learned to describe (reading cell by cell) but not to answer "Is there a star?" (which needs
// the identity in each token, for the question to find): 50% on its own training images after
// 1,000 steps, where the patch-tagged tower's VLM learns it (scripts/calibrate.sh).
// Losses: cross-entropy for single-label heads (targets -100 are ignored), binary
// cross-entropy for multi-label heads (rows with a zero mask are ignored).
import { crossEntropy, Generator, type Tensor, tensorFrom } from "../engine/index.js";
import { Linear, ParamStore } from "./layers.js";
import { numPatches, type VisionConfig, VisionEncoder, validateVisionConfig } from "./vision.js";

export interface TaggerHead {
  /** Class names, in logit order. */
  classes: string[];
  pool: "patches" | "cells" | "image";
  /** single: one class (cross-entropy); multi: any subset (a sigmoid per class). */
  kind: "single" | "multi";
}

export interface TaggerConfig {
  vision: VisionConfig;
  /** Side of the grid of cells the "cells" heads classify. */
  cells: number;
  heads: Record<string, TaggerHead>;
}

export class TaggerConfigError extends Error {
  override name = "TaggerConfigError";
}

export function validateTaggerConfig(c: TaggerConfig): void {
  try {
    validateVisionConfig(c.vision, "vision");
  } catch (error) {
    throw new TaggerConfigError((error as Error).message);
  }
  if (!Number.isInteger(c.cells) || c.cells < 1)
    throw new TaggerConfigError(`cells: expected an integer >= 1, got ${c.cells}`);
  const names = Object.keys(c.heads);
  if (names.length === 0) throw new TaggerConfigError("heads: at least one head is needed");
  for (const name of names) {
    const h = c.heads[name];
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new TaggerConfigError(`heads.${name}: names are lower-case identifiers`);
    if (!Array.isArray(h.classes) || h.classes.length < 1 || h.classes.some((x) => typeof x !== "string")) {
      throw new TaggerConfigError(`heads.${name}.classes: expected a non-empty list of names`);
    }
    if (h.pool !== "patches" && h.pool !== "cells" && h.pool !== "image") {
      throw new TaggerConfigError(
        `heads.${name}.pool: expected "patches", "cells" or "image", got ${JSON.stringify(h.pool)}`,
      );
    }
    if (h.kind !== "single" && h.kind !== "multi") {
      throw new TaggerConfigError(`heads.${name}.kind: expected "single" or "multi", got ${JSON.stringify(h.kind)}`);
    }
  }
}

/**
 * (cells^2, N) weights: row k averages the patches under cell k, each weighted by the share of
 * its area inside the cell, so that every row sums to 1 (cells in reading order).
 */
export function cellPoolWeights(vision: VisionConfig, cells: number): Float32Array {
  const S = vision.imageSize;
  const p = vision.patchSize;
  const g = S / p;
  const overlap = (a0: number, a1: number, b0: number, b1: number) => Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
  const w = new Float32Array(cells * cells * g * g);
  for (let cy = 0; cy < cells; cy++) {
    for (let cx = 0; cx < cells; cx++) {
      const row = cy * cells + cx;
      const [x0, x1, y0, y1] = [(cx * S) / cells, ((cx + 1) * S) / cells, (cy * S) / cells, ((cy + 1) * S) / cells];
      let total = 0;
      for (let py = 0; py < g; py++) {
        for (let px = 0; px < g; px++) {
          const a = overlap(px * p, (px + 1) * p, x0, x1) * overlap(py * p, (py + 1) * p, y0, y1);
          w[row * g * g + py * g + px] = a;
          total += a;
        }
      }
      for (let i = 0; i < g * g; i++) w[row * g * g + i] /= total;
    }
  }
  return w;
}

/** Targets of one head for a batch: class ids (B * slots, -100 = none) or tags with a row mask. */
export type HeadTargets =
  | { kind: "single"; ids: BigInt64Array }
  | { kind: "multi"; tags: Float32Array; mask: Float32Array };

export class VisionTagger {
  readonly store: ParamStore;
  readonly vision: VisionEncoder;
  readonly heads: Map<string, Linear>;
  readonly cellWeights: Float32Array;

  constructor(
    readonly config: TaggerConfig,
    options: { seed?: number } = {},
  ) {
    validateTaggerConfig(config);
    this.store = new ParamStore(new Generator(options.seed ?? 0));
    this.vision = new VisionEncoder(this.store, "vision", config.vision);
    this.heads = new Map(
      Object.entries(config.heads).map(([name, h]) => [
        name,
        new Linear(this.store, `heads.${name}`, config.vision.dim, h.classes.length, { bias: true }),
      ]),
    );
    this.cellWeights = cellPoolWeights(config.vision, config.cells);
  }

  get parameters(): Map<string, Tensor> {
    return this.store.params;
  }

  /** The tower's weights alone (`vision.*`), as the VLM loads them. */
  visionParameters(): Map<string, Tensor> {
    return new Map([...this.store.params].filter(([name]) => name.startsWith("vision.")));
  }

  trainableParameters(): Map<string, Tensor> {
    return new Map(this.store.params);
  }

  /** pixels (B, 3, H, W) -> logits per head: (B, N, K), (B, cells^2, K) or (B, 1, K). */
  forward(pixels: Tensor): Map<string, Tensor> {
    const feats = this.vision.forward(pixels); // (B, N, C)
    const N = numPatches(this.config.vision);
    const c2 = this.config.cells ** 2;
    const pooled = new Map<TaggerHead["pool"], Tensor>();
    const pool = (kind: TaggerHead["pool"]): Tensor => {
      let t = pooled.get(kind);
      if (t === undefined) {
        if (kind === "patches") t = feats;
        else if (kind === "cells")
          t = tensorFrom(this.cellWeights, [c2, N]).matmul(feats); // (B, cells^2, C)
        else t = feats.mean(1, true); // (B, 1, C)
        pooled.set(kind, t);
      }
      return t;
    };
    const out = new Map<string, Tensor>();
    for (const [name, head] of this.heads) out.set(name, head.forward(pool(this.config.heads[name].pool)));
    return out;
  }

  /** Per-head mean losses and their sum, for targets laid out as the logits are (B * slots). */
  loss(pixels: Tensor, targets: Map<string, HeadTargets>): { total: Tensor; byHead: Map<string, Tensor> } {
    const logits = this.forward(pixels);
    const byHead = new Map<string, Tensor>();
    for (const [name, z] of logits) {
      const t = targets.get(name);
      if (t === undefined) throw new RangeError(`VisionTagger.loss: no targets for head ${name}`);
      const [B, slots, K] = z.shape;
      const flat = z.reshape([B * slots, K]);
      if (t.kind === "single") {
        if (t.ids.length !== B * slots)
          throw new RangeError(`VisionTagger.loss: ${name} needs ${B * slots} targets, got ${t.ids.length}`);
        // All ignored would make libtorch's mean a NaN: such a head adds nothing.
        if (t.ids.every((id) => id === -100n)) continue;
        byHead.set(name, crossEntropy(flat, tensorFrom(t.ids, [B * slots])));
      } else {
        const rows = t.mask.reduce((a, b) => a + b, 0);
        if (t.tags.length !== B * slots * K)
          throw new RangeError(`VisionTagger.loss: ${name} needs ${B * slots * K} tags`);
        if (rows === 0) continue;
        const y = tensorFrom(t.tags, [B * slots, K]);
        const m = tensorFrom(t.mask, [B * slots, 1]);
        // -(y log s(z) + (1 - y) log s(-z)), averaged over the classes of the unmasked rows.
        const bce = y.mul(flat.logSigmoid()).add(y.rsub(1).mul(flat.neg().logSigmoid())).neg();
        byHead.set(
          name,
          bce
            .mul(m)
            .sum()
            .div(rows * K),
        );
      }
    }
    let total: Tensor | null = null;
    for (const l of byHead.values()) total = total === null ? l : total.add(l);
    if (total === null) throw new RangeError("VisionTagger.loss: every target of the batch is ignored");
    return { total, byHead };
  }

  dispose(): void {
    this.store.dispose();
  }
}
