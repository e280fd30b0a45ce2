// The VLM reading its tower's per-patch heads (VLMConfig.readout): the config's checks, the
// heads loaded from a tagger checkpoint (and refused when the tagger has no such head), the
// projector reading the heads' probabilities, a checkpoint round trip, and withReadout keeping
// an existing model's image features unchanged until it trains.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Generator, noGrad, randn, setNumThreads, tensorFrom, tidy } from "../../src/engine/index.js";
import { type TaggerConfig, VisionTagger } from "../../src/models/tagger.js";
import { loadVisionTowerInto, readoutHeads, saveTagger } from "../../src/models/tagger-io.js";
import { Tokenizer } from "../../src/models/tokenizer.js";
import { ConfigError, parseVLMConfig, VLM, type VLMConfig, visionTokenChannels } from "../../src/models/vlm.js";
import { loadVLM, saveVLM } from "../../src/models/vlm-io.js";
import { withReadout } from "../../src/models/vlm-readout.js";

setNumThreads(1);

const vision = { imageSize: 16, patchSize: 4, dim: 8, layers: 1, heads: 2, mlpDim: 16, stem: "conv" as const };
const taggerConfig: TaggerConfig = {
  vision,
  cells: 2,
  heads: {
    thing: { classes: ["circle", "star", "empty"], pool: "patches", kind: "single" },
    color: { classes: ["red", "blue"], pool: "patches", kind: "single" },
    objects: { classes: ["circle", "star"], pool: "image", kind: "multi" },
  },
};
const vlmConfig: VLMConfig = {
  vision,
  projectorHidden: 12,
  decoder: { dim: 16, layers: 1, heads: 2, mlpDim: 32, maxPositions: 64, ropeBase: 10000 },
  vocabSize: 16,
  imageTokenId: 4,
  tokenMerge: 2,
};

function pixels(seed: number) {
  return randn([2, 3, 16, 16], new Generator(seed));
}

test("readout config: per-patch single-label heads only, names and class counts checked", () => {
  assert.deepEqual(readoutHeads(taggerConfig), { thing: 3, color: 2 });
  const ok = parseVLMConfig({ ...vlmConfig, readout: { thing: 3, color: 2 } });
  assert.deepEqual(ok.readout, { thing: 3, color: 2 });
  // 8 feature channels + 5 classes per vision token, 4 tokens per merged square.
  assert.equal(visionTokenChannels(ok), 13);
  assert.equal(parseVLMConfig(vlmConfig).readout, undefined, "absent stays absent");
  assert.throws(() => parseVLMConfig({ ...vlmConfig, readout: {} }), /config\.readout: expected an object/);
  assert.throws(() => parseVLMConfig({ ...vlmConfig, readout: { Thing: 3 } }), /config\.readout\.Thing: head names/);
  assert.throws(() => parseVLMConfig({ ...vlmConfig, readout: { thing: 1 } }), ConfigError);
});

test("the heads load from the tagger, the projector reads their probabilities, and a round trip keeps them", () => {
  const dir = mkdtempSync(join(tmpdir(), "readout-"));
  const tagger = new VisionTagger(taggerConfig, { seed: 3 });
  const vlm = new VLM({ ...vlmConfig, readout: { thing: 3, color: 2 } }, { seed: 5 });
  try {
    saveTagger(join(dir, "tagger"), tagger);
    loadVisionTowerInto(join(dir, "tagger"), vision, vlm.parameters, { thing: 3, color: 2 });
    assert.equal(vlm.projector.fc1.inFeatures, 4 * 13);
    noGrad(() =>
      tidy(() => {
        const x = pixels(1);
        const thing = tagger.forward(x).get("thing");
        assert.ok(thing !== undefined);
        const fromVlm = vlm.readout.get("thing")?.forward(vlm.vision.forward(x));
        assert.deepEqual(fromVlm?.toFloat32(), thing.toFloat32(), "the VLM's head is the tagger's");
        // The first merged token's first channels: patch 0's features, then its probabilities.
        const feats = vlm.vision.forward(x);
        const probs = thing.softmax(-1).toFloat32();
        const f0 = feats.toFloat32();
        // Rebuild fc1's input for token 0 of image 0 by hand and compare fc1's output on it.
        const grid = 4;
        const row: number[] = [];
        for (const p of [0, 1, grid, grid + 1]) {
          row.push(...f0.subarray(p * 8, p * 8 + 8));
          row.push(...probs.subarray(p * 3, p * 3 + 3));
          row.push(
            ...(vlm.readout
              .get("color")
              ?.forward(feats)
              .softmax(-1)
              .toFloat32()
              .subarray(p * 2, p * 2 + 2) ?? []),
          );
        }
        const expected = vlm.projector.fc2
          .forward(vlm.projector.fc1.forward(tensorFrom(Float32Array.from(row), [1, 52])).gelu())
          .toFloat32();
        const got = vlm.encodeImages(x).toFloat32().subarray(0, 16);
        for (const [i, v] of expected.entries())
          assert.ok(Math.abs(v - got[i]) < 1e-5, `channel ${i}: ${got[i]} vs ${v}`);
      }),
    );
    vlm.setVisionFrozen(true);
    assert.ok(
      ![...vlm.trainableParameters().keys()].some((n) => n.startsWith("vision.readout.")),
      "frozen with the tower",
    );
    const tokenizer = Tokenizer.build(["a red circle", "a blue star"]);
    saveVLM(join(dir, "vlm"), vlm, tokenizer);
    const loaded = loadVLM(join(dir, "vlm"));
    try {
      assert.deepEqual(loaded.config.readout, { thing: 3, color: 2 });
      noGrad(() =>
        tidy(() => {
          const x = pixels(2);
          assert.deepEqual(loaded.model.encodeImages(x).toFloat32(), vlm.encodeImages(x).toFloat32());
        }),
      );
    } finally {
      loaded.model.dispose();
    }
    assert.throws(
      () => loadVisionTowerInto(join(dir, "tagger"), vision, vlm.parameters, { objects: 2 }),
      /reads head objects with 2 classes; the tagger's per-patch single-label heads are \{"thing":3,"color":2\}/,
    );
    assert.throws(
      () => loadVisionTowerInto(join(dir, "tagger"), vision, vlm.parameters, { thing: 4 }),
      /reads head thing with 4 classes/,
    );
  } finally {
    vlm.dispose();
    tagger.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("withReadout keeps a model's image features: the new columns of fc1 start at zero", () => {
  const plain = new VLM(vlmConfig, { seed: 7 });
  plain.setVisionFrozen(true);
  const wide = withReadout(plain, { thing: 3, color: 2 });
  try {
    assert.equal(wide.projector.fc1.inFeatures, 4 * 13);
    assert.ok(wide.visionFrozen, "the tower stays frozen");
    noGrad(() =>
      tidy(() => {
        // Non-zero heads: the features must still not change, as fc1's new columns are zero.
        for (const head of wide.readout.values()) head.weight.assign(randn(head.weight.shape, new Generator(4)));
        const x = pixels(3);
        const before = plain.encodeImages(x).toFloat32();
        const after = wide.encodeImages(x).toFloat32();
        for (const [i, v] of before.entries())
          assert.ok(Math.abs(v - after[i]) < 1e-6, `feature ${i}: ${after[i]} vs ${v}`);
        const w = wide.projector.fc1.weight.toFloat32();
        const old = plain.projector.fc1.weight.toFloat32();
        // Row 0: token 1's feature channels come from the old token 1's; its readout columns are 0.
        assert.deepEqual([...w.subarray(13, 21)], [...old.subarray(8, 16)]);
        assert.deepEqual([...w.subarray(21, 26)], [0, 0, 0, 0, 0]);
      }),
    );
    assert.ok([...wide.trainableParameters().keys()].includes("projector.fc1.weight"));
    assert.throws(() => withReadout(wide, { thing: 3 }), /already reads/);
  } finally {
    wide.dispose();
    plain.dispose();
  }
});
