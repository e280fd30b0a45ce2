// The vision tagger: cell pooling weights, targets from scene graphs, its loss (ignored slots,
// masked tags), learning on a tiny world, checkpoint round trip, and moving its tower into a VLM
// whose tower then stays frozen.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AdamW, noGrad, setNumThreads, tensorFrom, tidy } from "../../src/engine/index.js";
import { cellPoolWeights, type TaggerConfig, VisionTagger } from "../../src/models/tagger.js";
import { loadTagger, loadVisionTowerInto, saveTagger } from "../../src/models/tagger-io.js";
import { VLM, type VLMConfig } from "../../src/models/vlm.js";
import { taggerAccuracy, taggerTargets, worldTaggerConfig } from "../../src/train/tagger-data.js";
import type { WorldRecord } from "../../src/world/splits.js";

setNumThreads(1);

const vision = { imageSize: 16, patchSize: 4, dim: 16, layers: 1, heads: 2, mlpDim: 32, stem: "conv" as const };

test("cell pooling: each cell averages the patches under it by area", () => {
  // 16 px, 4 px patches (4x4 grid), 2x2 cells of 8 px: cell 0 is exactly patches 0, 1, 4, 5.
  const w = cellPoolWeights({ ...vision }, 2);
  assert.equal(w.length, 4 * 16);
  assert.deepEqual(
    [...w.subarray(0, 16)].map((x) => Math.round(x * 100) / 100),
    [0.25, 0.25, 0, 0, 0.25, 0.25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  );
  // 3x3 cells of 16/3 px: patch 0 lies wholly in cell 0; patch 1 (4..8 px) has 4/3 of 4 px in it.
  const w3 = cellPoolWeights({ ...vision }, 3);
  for (let row = 0; row < 9; row++) {
    const sum = w3.subarray(row * 16, (row + 1) * 16).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-6, `row ${row} sums to ${sum}`);
  }
  const area0 = 4 * 4;
  const area1 = (4 / 3) * 4;
  const area5 = (4 / 3) * (4 / 3);
  const total = area0 + 2 * area1 + area5;
  assert.ok(Math.abs(w3[0] - area0 / total) < 1e-6);
  assert.ok(Math.abs(w3[1] - area1 / total) < 1e-6);
  assert.ok(Math.abs(w3[5] - area5 / total) < 1e-6);
});

/** A 48x48 scene: each object a radius-6 shape centred in its 16-px cell; a word's plate fills its cell. */
const at = (cell: number) => ({ x: (cell % 3) * 16 + 8, y: Math.floor(cell / 3) * 16 + 8 });
const plateOf = (cell: number) => {
  const { x, y } = at(cell);
  return { x0: x - 8, y0: y - 8, x1: x + 8, y1: y + 8 };
};
function scene(
  id: string,
  objects: { shape: string; color: string; cell: number; motion?: string }[],
  word?: { text: string; cell: number },
) {
  return {
    id,
    kind: "scene",
    image: `images/${id}.png`,
    scene: {
      width: 48,
      height: 48,
      background: "beach",
      objects: objects.map((o, i) => ({ id: i, size: "small", motion: o.motion ?? null, ...at(o.cell), r: 6, ...o })),
      words: word ? [{ id: 0, color: "black", ...word, plate: plateOf(word.cell) }] : [],
    },
  } as unknown as WorldRecord;
}
const creature = {
  id: "c0",
  kind: "creature",
  image: "images/c0.png",
  species: "jorun",
  visibleConcepts: ["body:tall", "pattern:stripes"],
} as unknown as WorldRecord;

test("targets: per patch from the scene graph's outlines, per image for scenes and creatures", () => {
  // 48 px in 16-px patches: the patches are the 3x3 cells.
  const config = worldTaggerConfig({ ...vision, imageSize: 48, patchSize: 16 }, ["CAT", "DOG"]);
  const h = config.heads;
  const records = [
    scene("s0", [{ shape: "circle", color: "red", cell: 4, motion: "left" }], { text: "DOG", cell: 0 }),
    creature,
  ];
  const t = taggerTargets(config, records);
  const thing = t.get("thing");
  assert.ok(thing?.kind === "single");
  const empty = BigInt(h.thing.classes.indexOf("empty"));
  const ids = [...thing.ids];
  assert.equal(ids.length, 18, "9 patches x 2 records");
  assert.equal(ids[0], BigInt(h.thing.classes.indexOf("word")));
  assert.equal(ids[4], BigInt(h.thing.classes.indexOf("circle")));
  assert.deepEqual([ids[1], ids[8]], [empty, empty]);
  assert.ok(
    ids.slice(9).every((id) => id === -100n),
    "a creature has no patch targets",
  );
  const color = t.get("color");
  assert.ok(color?.kind === "single");
  assert.equal(color.ids[4], BigInt(h.color.classes.indexOf("red")));
  assert.equal(color.ids[0], -100n, "a word cell has no object colour");
  const motion = t.get("motion");
  assert.ok(motion?.kind === "single" && motion.ids[4] === BigInt(h.motion.classes.indexOf("left")));
  const text = t.get("text");
  assert.ok(text?.kind === "single" && text.ids[0] === 1n);
  const species = t.get("species");
  assert.ok(species?.kind === "single");
  assert.deepEqual([...species.ids], [-100n, BigInt(h.species.classes.indexOf("jorun"))]);
  const concepts = t.get("concepts");
  assert.ok(concepts?.kind === "multi");
  assert.deepEqual([...concepts.mask], [0, 1]);
  const K = h.concepts.classes.length;
  const on = [...concepts.tags.subarray(K)].flatMap((v, k) => (v === 1 ? [h.concepts.classes[k]] : []));
  assert.deepEqual(on.sort(), ["body:tall", "pattern:stripes"]);
  assert.throws(
    () => taggerTargets(config, [scene("bad", [{ shape: "blob", color: "red", cell: 0 }])]),
    /bad: unknown shape "blob"/,
  );
  // A small object owns no patch of a coarse grid: under 3 of a patch's 16 points.
  const tiny = scene("s2", [{ shape: "circle", color: "red", cell: 4 }]);
  (tiny as unknown as { scene: { objects: { r: number }[] } }).scene.objects[0].r = 1;
  const t2 = taggerTargets(config, [tiny]).get("thing");
  assert.ok(t2?.kind === "single" && t2.ids[4] === empty, "a tiny object leaves its patch empty");
});

test("accuracy: argmax over targeted slots, thresholded tags over tagged rows (hand-made logits)", () => {
  const config: TaggerConfig = {
    vision: { ...vision },
    cells: 1,
    heads: {
      thing: { classes: ["star", "word", "empty"], pool: "cells", kind: "single" },
      concepts: { classes: ["body:tall", "pattern:stripes", "tail:fan"], pool: "image", kind: "multi" },
    },
  };
  const records = [scene("s0", [{ shape: "star", color: "red", cell: 0 }]), creature, scene("s1", [])];
  const logits = new Map([
    // s0: star (right), creature: ignored, s1: says star, truth empty (wrong).
    ["thing", Float32Array.from([3, 0, 1, 9, 9, 9, 2, 0, 1])],
    // Only the creature row counts: tall yes (right), stripes no (wrong), fan no (right).
    ["concepts", Float32Array.from([5, 5, 5, 1, -1, -1, 5, 5, 5])],
  ]);
  const acc = taggerAccuracy(config, logits, records);
  assert.deepEqual(acc.thing, { correct: 1, total: 2 });
  assert.deepEqual(acc.concepts, { correct: 2, total: 3 });
});

test("the tagger learns a tiny world, survives a round trip, and its tower moves into a frozen VLM", () => {
  const config: TaggerConfig = {
    vision: { ...vision },
    cells: 2,
    heads: { thing: { classes: ["bright", "dark"], pool: "cells", kind: "single" } },
  };
  const model = new VisionTagger(config, { seed: 0 });
  // Images whose left half is bright or dark; the right cells' targets are ignored.
  const make = (bright: boolean) => {
    const px = new Float32Array(3 * 16 * 16);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 16; y++) for (let x = 0; x < 8; x++) px[c * 256 + y * 16 + x] = bright ? 0.9 : 0.1;
    return px;
  };
  const batch = [true, false, true, false];
  const pixels = new Float32Array(4 * 768);
  batch.forEach((b, i) => {
    pixels.set(make(b), i * 768);
  });
  const ids = BigInt64Array.from(batch.flatMap((b) => [b ? 0n : 1n, -100n, b ? 0n : 1n, -100n]));
  const targets = new Map([["thing", { kind: "single" as const, ids }]]);
  const params = [...model.trainableParameters().values()];
  const optimizer = new AdamW(params, { lr: 3e-3, weightDecay: 0 });
  const dir = mkdtempSync(join(tmpdir(), "tagger-"));
  try {
    const losses: number[] = [];
    for (let step = 0; step < 60; step++) {
      losses.push(
        tidy(() => {
          const l = model.loss(tensorFrom(pixels, [4, 3, 16, 16]), targets).total;
          l.backward();
          return l.item();
        }),
      );
      optimizer.stepOnce();
      optimizer.zeroGrad();
    }
    assert.ok(losses[0] > 0.5 && (losses.at(-1) ?? 1) < 0.05, `loss ${losses[0]} -> ${losses.at(-1)}`);
    saveTagger(dir, model);
    const loaded = loadTagger(dir);
    const vlmConfig: VLMConfig = {
      vision: { ...vision },
      projectorHidden: 16,
      decoder: { dim: 16, layers: 1, heads: 2, mlpDim: 32, maxPositions: 64, ropeBase: 10000 },
      vocabSize: 12,
      imageTokenId: 4,
    };
    const vlm = new VLM(vlmConfig, { seed: 9 });
    try {
      noGrad(() =>
        tidy(() => {
          const x = tensorFrom(pixels, [4, 3, 16, 16]);
          const a = model.forward(x).get("thing")?.toFloat32();
          assert.deepEqual(loaded.forward(x).get("thing")?.toFloat32(), a);
          loadVisionTowerInto(dir, vlmConfig.vision, vlm.parameters);
          assert.deepEqual(vlm.vision.forward(x).toFloat32(), model.vision.forward(x).toFloat32());
        }),
      );
      vlm.setVisionFrozen(true);
      const trainable = [...vlm.trainableParameters().keys()];
      assert.ok(trainable.length > 0 && trainable.every((n) => !n.startsWith("vision.")));
      assert.ok(trainable.includes("projector.fc1.weight"));
      assert.equal(vlm.parameters.get("vision.stem.0.weight")?.requiresGrad, false);
      vlm.addLora({ r: 2, alpha: 4, dropout: 0, targetModules: ["q_proj"] });
      vlm.mergeLora();
      assert.equal(vlm.parameters.get("vision.stem.0.weight")?.requiresGrad, false, "merging keeps the tower frozen");
      assert.throws(
        () => loadVisionTowerInto(dir, { ...vision, dim: 32 }, vlm.parameters),
        /its vision tower .* differs from the model's/,
      );
    } finally {
      vlm.dispose();
      loaded.dispose();
    }
  } finally {
    optimizer.dispose();
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
