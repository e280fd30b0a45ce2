// What the vision tagger (src/models/tagger.ts) learns on SceneWorld: every attribute the world
// draws, read from the scene graphs of the pretraining split, so that the tower learns to see
// before any language is involved (the co-occurrence prior is then the decoder's to learn, as in
// a VLM whose tower was pretrained elsewhere).
//
//   per patch    thing (a shape, "word" or "empty"), colour, size, motion (object patches only;
//                others ignored) and the word written (plate patches only). A patch belongs to
//                the object covering most of a 4x4 grid of points in it (at least 3 of the 16,
//                by the shape's exact outline), else to a plate covering 4, else it is empty.
//   per image    scene type (scenes), species and the visible concepts (creatures)
import type { HeadTargets, TaggerConfig, TaggerHead } from "../models/tagger.js";
import type { VisionConfig } from "../models/vision.js";
import { CONCEPTS, SPECIES_NAMES } from "../world/index.js";
import { placedSdf } from "../world/shapes.js";
import type { WorldRecord } from "../world/splits.js";
import { COLORS, DIRECTIONS, SCENE_TYPES, SHAPES, SIZES } from "../world/vocabulary.js";

/** SceneWorld's grid (scene.ts: cell = row * 3 + column). */
export const WORLD_CELLS = 3;
const EMPTY = "empty";
const WORD = "word";
const STILL = "still";

/** The heads for a world whose rendered words are `words`. */
export function worldTaggerHeads(words: readonly string[]): Record<string, TaggerHead> {
  const cell = (classes: readonly string[]): TaggerHead => ({ classes: [...classes], pool: "patches", kind: "single" });
  return {
    thing: cell([...SHAPES, WORD, EMPTY]),
    color: cell(COLORS),
    size: cell(SIZES),
    motion: cell([STILL, ...DIRECTIONS]),
    text: cell(words),
    scene: { classes: [...SCENE_TYPES], pool: "image", kind: "single" },
    species: { classes: [...SPECIES_NAMES], pool: "image", kind: "single" },
    concepts: { classes: CONCEPTS.map((c) => c.id), pool: "image", kind: "multi" },
  };
}

export function worldTaggerConfig(vision: VisionConfig, words: readonly string[]): TaggerConfig {
  return { vision, cells: WORLD_CELLS, heads: worldTaggerHeads(words) };
}

const IGNORE = -100n;

/** One record's targets per head: class ids per slot (cells or the image), or tags. */
interface RecordTargets {
  single: Map<string, bigint[]>;
  tags: Float32Array | null;
}

function indexOf(head: TaggerHead, name: string, where: string): bigint {
  const i = head.classes.indexOf(name);
  if (i < 0) throw new RangeError(`${where}: "${name}" is not one of the head's classes (${head.classes.join(", ")})`);
  return BigInt(i);
}

function recordTargets(config: TaggerConfig, r: WorldRecord): RecordTargets {
  const h = config.heads;
  const single = new Map<string, bigint[]>();
  const patches = (config.vision.imageSize / config.vision.patchSize) ** 2;
  const slots = { patches, cells: config.cells ** 2, image: 1 };
  for (const [name, head] of Object.entries(h)) {
    if (head.kind === "single") single.set(name, Array(slots[head.pool]).fill(IGNORE));
  }
  // Sets a head's target in one slot (a cell for cell heads, a patch for patch heads); heads the
  // config does not have are skipped, as are those of the other kind of slot.
  const set = (name: string, slot: number, value: string, kind: "patches" | "cells" | "image") => {
    const ids = single.get(name);
    if (ids !== undefined && h[name].pool === kind) ids[slot] = indexOf(h[name], value, r.id);
  };
  let tags: Float32Array | null = null;
  if (r.kind === "scene") {
    const s = r.scene;
    for (const o of s.objects) {
      if (!(SHAPES as readonly string[]).includes(o.shape)) throw new RangeError(`${r.id}: unknown shape "${o.shape}"`);
    }
    for (let cell = 0; cell < config.cells ** 2; cell++) set("thing", cell, EMPTY, "cells");
    for (const o of s.objects) {
      set("thing", o.cell, o.shape, "cells");
      set("color", o.cell, o.color, "cells");
      set("size", o.cell, o.size, "cells");
      set("motion", o.cell, o.motion ?? STILL, "cells");
    }
    for (const w of s.words) {
      set("thing", w.cell, WORD, "cells");
      set("text", w.cell, w.text, "cells");
    }
    patchOwners(s, config.vision).forEach((owner, patch) => {
      set("thing", patch, owner === null ? EMPTY : owner.kind === "object" ? owner.o.shape : WORD, "patches");
      if (owner?.kind === "object") {
        set("color", patch, owner.o.color, "patches");
        set("size", patch, owner.o.size, "patches");
        set("motion", patch, owner.o.motion ?? STILL, "patches");
      } else if (owner?.kind === "word") {
        set("text", patch, owner.w.text, "patches");
      }
    });
    set("scene", 0, s.background, "image");
  } else {
    set("species", 0, r.species, "image");
    if (h.concepts !== undefined) {
      tags = new Float32Array(h.concepts.classes.length);
      for (const c of r.visibleConcepts) tags[Number(indexOf(h.concepts, c, r.id))] = 1;
    }
  }
  return { single, tags };
}

type SceneOf<R> = R extends { kind: "scene"; scene: infer S } ? S : never;
type WorldScene = SceneOf<WorldRecord>;
type Owner =
  | { kind: "object"; o: WorldScene["objects"][number] }
  | { kind: "word"; w: WorldScene["words"][number] }
  | null;

/** What each patch shows (reading order): see the header for the rule. */
export function patchOwners(scene: WorldScene, vision: VisionConfig): Owner[] {
  const p = vision.patchSize;
  const g = vision.imageSize / p;
  // Scene coordinates are the world's pixels; the tower may read the image resized.
  const sx = scene.width / vision.imageSize;
  const sy = scene.height / vision.imageSize;
  const owners: Owner[] = [];
  for (let py = 0; py < g; py++) {
    for (let px = 0; px < g; px++) {
      const points: [number, number][] = [];
      for (let j = 0; j < 4; j++) {
        for (let i = 0; i < 4; i++)
          points.push([(px * p + ((i + 0.5) * p) / 4) * sx, (py * p + ((j + 0.5) * p) / 4) * sy]);
      }
      let best: Owner = null;
      let bestCount = 2; // an object needs at least 3 of the 16 points
      for (const o of scene.objects) {
        const count = points.filter(([x, y]) => placedSdf(o, x, y) <= 0).length;
        if (count > bestCount) {
          best = { kind: "object", o };
          bestCount = count;
        }
      }
      if (best === null) {
        for (const w of scene.words) {
          const b = w.plate;
          const count = points.filter(([x, y]) => x >= b.x0 && x <= b.x1 && y >= b.y0 && y <= b.y1).length;
          if (count >= 4) best = { kind: "word", w };
        }
      }
      owners.push(best);
    }
  }
  return owners;
}

/** The batch's targets, laid out as VisionTagger.forward's logits (record-major, then slot). */
export function taggerTargets(config: TaggerConfig, records: readonly WorldRecord[]): Map<string, HeadTargets> {
  const per = records.map((r) => recordTargets(config, r));
  const out = new Map<string, HeadTargets>();
  for (const [name, head] of Object.entries(config.heads)) {
    if (head.kind === "single") {
      out.set(name, { kind: "single", ids: BigInt64Array.from(per.flatMap((t) => t.single.get(name) ?? [])) });
    } else {
      const K = head.classes.length;
      const tags = new Float32Array(records.length * K);
      const mask = new Float32Array(records.length);
      per.forEach((t, i) => {
        if (t.tags === null) return;
        tags.set(t.tags, i * K);
        mask[i] = 1;
      });
      out.set(name, { kind: "multi", tags, mask });
    }
  }
  return out;
}

/**
 * Accuracy of each head on records: single-label heads over the slots that have a target
 * (argmax = target), multi-label heads over every tag of the rows that have tags (sigmoid > 0.5
 * = tag present).
 */
export function taggerAccuracy(
  config: TaggerConfig,
  logits: Map<string, Float32Array>,
  records: readonly WorldRecord[],
): Record<string, { correct: number; total: number }> {
  const targets = taggerTargets(config, records);
  const out: Record<string, { correct: number; total: number }> = {};
  for (const [name, head] of Object.entries(config.heads)) {
    const z = logits.get(name);
    const t = targets.get(name);
    if (z === undefined || t === undefined) throw new RangeError(`taggerAccuracy: no logits or targets for ${name}`);
    const K = head.classes.length;
    let correct = 0;
    let total = 0;
    if (t.kind === "single") {
      t.ids.forEach((id, slot) => {
        if (id === IGNORE) return;
        let best = 0;
        for (let k = 1; k < K; k++) if (z[slot * K + k] > z[slot * K + best]) best = k;
        total++;
        if (BigInt(best) === id) correct++;
      });
    } else {
      t.mask.forEach((m, row) => {
        if (m === 0) return;
        for (let k = 0; k < K; k++) {
          total++;
          if (z[row * K + k] > 0 === (t.tags[row * K + k] === 1)) correct++;
        }
      });
    }
    out[name] = { correct, total };
  }
  return out;
}
