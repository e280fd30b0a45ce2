// Where does a VLM lose what its image tower sees? Reads a model's image features at two points,
// the tower's patch features (B, 64, Cv) and the projector's output, the image tokens the decoder
// reads (B, N, C), and fits for each shape a max-over-tokens linear probe ("some token shows a
// star": score = max_t w . h_t + b, a sigmoid, binary cross-entropy) on the pool split's scenes
// (the probe reads their scene graphs: a diagnostic, not a method). It then reports, on the
// validation split, image-level existence as POPE asks it: recall over present shapes,
// specificity over absent ones, and the false "yes" rate for absent prior partners of a present
// anchor against other absent shapes. Compare with the VLM's own POPE answers
// (scripts/calibrate.sh): the gap between probe and answer is what the decoder throws away.
//
// With --tagger (a `pretrain vision` model), the tower's own heads are read too, with no probe:
// existence from the per-patch `thing` head (some patch's argmax names the shape) and from the
// image-level `objects` head (sigmoid > 0.5), where the tagger has one.
//
//   node --import tsx scripts/probe-existence.ts --model assets/base [--tagger assets/vision]
//        [--world runs/world] [--train 3000] [--val 600] [--epochs 30] [--json]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { noGrad, setNumThreads, tensorFrom, tidy } from "../src/engine/index.js";
import { loadTagger } from "../src/models/tagger-io.js";
import { loadVLM } from "../src/models/vlm-io.js";
import { ImageStore } from "../src/train/world-data.js";
import { readWorldSplit } from "../src/world/read-split.js";
import type { SceneRecord } from "../src/world/splits.js";

const { values: a } = parseArgs({
  options: {
    model: { type: "string", default: "assets/base" },
    tagger: { type: "string" },
    world: { type: "string", default: "runs/world" },
    train: { type: "string", default: "3000" },
    val: { type: "string", default: "600" },
    epochs: { type: "string", default: "30" },
    lr: { type: "string", default: "0.05" },
    threads: { type: "string", default: "2" },
    json: { type: "boolean", default: false },
  },
});
setNumThreads(Number(a.threads));

/** The first `limit` scenes of a split file (the pool's truth, or validation). */
const read = (file: "pool-truth" | "validation", limit: number): SceneRecord[] =>
  readWorldSplit(a.world as string, file)
    .filter((r): r is SceneRecord => r.kind === "scene")
    .slice(0, limit);

const world = JSON.parse(readFileSync(`${a.world}/world-config.json`, "utf8")) as {
  objects: { shapes: string[] };
  priors: { pairs: { anchor: string; partner: string }[] };
};
const shapes = world.objects.shapes;
const pairs = world.priors.pairs;
const train = read("pool-truth", Number(a.train));
const val = read("validation", Number(a.val));

const { model } = loadVLM(a.model as string);
const size = model.config.vision.imageSize;
const images = await ImageStore.load(
  a.world as string,
  [...train, ...val].map((r) => r.image),
  size,
);

/** Token features at both read-outs, per image: [tower (Nv x Cv), projector (N x C)]. */
interface Features {
  tokens: number;
  dim: number;
  rows: Float32Array[];
}
function features(records: SceneRecord[]): { tower: Features; projector: Features } {
  const plane = 3 * size * size;
  const tower: Float32Array[] = [];
  const projector: Float32Array[] = [];
  let shapeT: number[] = [];
  let shapeP: number[] = [];
  noGrad(() => {
    for (let i = 0; i < records.length; i += 100) {
      const chunk = records.slice(i, i + 100);
      tidy(() => {
        const data = new Float32Array(chunk.length * plane);
        chunk.forEach((r, j) => {
          data.set(images.pixels(r.image), j * plane);
        });
        const pixels = tensorFrom(data, [chunk.length, 3, size, size]);
        const t = model.vision.forward(pixels); // (B, Nv, Cv)
        const p = model.encodeImages(pixels); // (B, N, C)
        shapeT = t.shape;
        shapeP = p.shape;
        const tf = t.toFloat32();
        const pf = p.toFloat32();
        const nt = shapeT[1] * shapeT[2];
        const np = shapeP[1] * shapeP[2];
        for (let j = 0; j < chunk.length; j++) {
          tower.push(tf.slice(j * nt, (j + 1) * nt));
          projector.push(pf.slice(j * np, (j + 1) * np));
        }
      });
    }
  });
  return {
    tower: { tokens: shapeT[1], dim: shapeT[2], rows: tower },
    projector: { tokens: shapeP[1], dim: shapeP[2], rows: projector },
  };
}

/** Per-feature mean and standard deviation over every token of the training images. */
function standardizer(f: Features): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(f.dim);
  const sq = new Float64Array(f.dim);
  let n = 0;
  for (const row of f.rows) {
    for (let t = 0; t < f.tokens; t++, n++) {
      for (let d = 0; d < f.dim; d++) {
        const x = row[t * f.dim + d];
        mean[d] += x;
        sq[d] += x * x;
      }
    }
  }
  const std = new Float64Array(f.dim);
  for (let d = 0; d < f.dim; d++) {
    mean[d] /= n;
    std[d] = Math.sqrt(Math.max(sq[d] / n - mean[d] ** 2, 1e-8));
  }
  return { mean, std };
}

const present = (r: SceneRecord) => new Set(r.scene.objects.map((o) => o.shape as string));

/** Max-over-tokens logistic probe per shape, plain SGD with momentum on standardized features. */
function fitProbe(f: Features, records: SceneRecord[]) {
  const { mean, std } = standardizer(f);
  const z = (row: Float32Array, t: number, d: number) => (row[t * f.dim + d] - mean[d]) / std[d];
  const W = shapes.map(() => new Float64Array(f.dim));
  const b = shapes.map(() => 0);
  const VW = shapes.map(() => new Float64Array(f.dim));
  const vb = shapes.map(() => 0);
  const lr = Number(a.lr);
  const score = (k: number, row: Float32Array) => {
    let best = Number.NEGATIVE_INFINITY;
    let arg = 0;
    for (let t = 0; t < f.tokens; t++) {
      let s = b[k];
      for (let d = 0; d < f.dim; d++) s += W[k][d] * z(row, t, d);
      if (s > best) {
        best = s;
        arg = t;
      }
    }
    return { s: best, t: arg };
  };
  const order = records.map((_, i) => i);
  let seed = 1;
  for (let epoch = 0; epoch < Number(a.epochs); epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const j = seed % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const i of order) {
      const row = f.rows[i];
      const has = present(records[i]);
      shapes.forEach((shape, k) => {
        const { s, t } = score(k, row);
        const g = 1 / (1 + Math.exp(-s)) - (has.has(shape) ? 1 : 0); // d BCE / d s
        for (let d = 0; d < f.dim; d++) {
          VW[k][d] = 0.9 * VW[k][d] + g * z(row, t, d) + 1e-4 * W[k][d];
          W[k][d] -= (lr / (1 + epoch)) * VW[k][d];
        }
        vb[k] = 0.9 * vb[k] + g;
        b[k] -= (lr / (1 + epoch)) * vb[k];
      });
    }
  }
  return (row: Float32Array, k: number) => score(k, row).s > 0;
}

interface Readout {
  recall: number;
  specificity: number;
  balancedAccuracy: number;
  partnerFalseYes: number;
  otherFalseYes: number;
}
/** Existence as POPE asks it, from a predicate "image i shows shape k". */
function evaluate(predict: (i: number, k: number) => boolean, records: SceneRecord[]): Readout {
  let tp = 0;
  let pos = 0;
  let tn = 0;
  let neg = 0;
  let partnerYes = 0;
  let partnerN = 0;
  let otherYes = 0;
  let otherN = 0;
  records.forEach((r, i) => {
    const has = present(r);
    const partners = new Set(pairs.filter((p) => has.has(p.anchor)).map((p) => p.partner));
    shapes.forEach((shape, k) => {
      const yes = predict(i, k);
      if (has.has(shape)) {
        pos++;
        if (yes) tp++;
        return;
      }
      neg++;
      if (!yes) tn++;
      if (partners.has(shape)) {
        partnerN++;
        if (yes) partnerYes++;
      } else {
        otherN++;
        if (yes) otherYes++;
      }
    });
  });
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    recall: r(tp / pos),
    specificity: r(tn / neg),
    balancedAccuracy: r((tp / pos + tn / neg) / 2),
    partnerFalseYes: r(partnerYes / Math.max(1, partnerN)),
    otherFalseYes: r(otherYes / Math.max(1, otherN)),
  };
}

/** The tagger's heads read as existence predictions over the validation images (no fitting). */
function taggerReadouts(dir: string): Record<string, Readout> {
  const tagger = loadTagger(dir);
  const thing = tagger.config.heads.thing;
  const objects = tagger.config.heads.objects;
  const plane = 3 * size * size;
  const byPatch: Set<string>[] = [];
  const byImage: Set<string>[] = [];
  noGrad(() => {
    for (let i = 0; i < val.length; i += 100) {
      const chunk = val.slice(i, i + 100);
      tidy(() => {
        const data = new Float32Array(chunk.length * plane);
        chunk.forEach((r, j) => {
          data.set(images.pixels(r.image), j * plane);
        });
        const out = tagger.forward(tensorFrom(data, [chunk.length, 3, size, size]));
        const z = out.get("thing")?.toFloat32();
        const o = out.get("objects")?.toFloat32();
        const K = thing.classes.length;
        const N = z === undefined ? 0 : z.length / chunk.length / K;
        chunk.forEach((_, j) => {
          const seen = new Set<string>();
          for (let t = 0; t < N && z; t++) {
            let best = 0;
            for (let k = 1; k < K; k++) if (z[(j * N + t) * K + k] > z[(j * N + t) * K + best]) best = k;
            seen.add(thing.classes[best]);
          }
          byPatch.push(seen);
          if (o && objects)
            byImage.push(new Set(objects.classes.filter((_, k) => o[j * objects.classes.length + k] > 0)));
        });
      });
    }
  });
  tagger.dispose();
  const out: Record<string, Readout> = { thingPatches: evaluate((i, k) => byPatch[i].has(shapes[k]), val) };
  if (byImage.length > 0) out.objectsHead = evaluate((i, k) => byImage[i].has(shapes[k]), val);
  return out;
}

const started = performance.now();
const ft = features(train);
const fv = features(val);
const result: Record<string, unknown> = { model: a.model, train: train.length, val: val.length };
if (a.tagger !== undefined) {
  result.taggerHeads = taggerReadouts(a.tagger);
  if (!a.json) console.log("tagger", JSON.stringify(result.taggerHeads));
}
for (const point of ["tower", "projector"] as const) {
  const probe = fitProbe(ft[point], train);
  result[point] = {
    train: evaluate((i, k) => probe(ft[point].rows[i], k), train),
    validation: evaluate((i, k) => probe(fv[point].rows[i], k), val),
  };
  if (!a.json) console.log(point, JSON.stringify(result[point]));
}
result.seconds = Math.round((performance.now() - started) / 1000);
console.log(JSON.stringify(result));
model.dispose();
