// The world teacher (src/methods/compact/teacher.ts) on a hand-built scene: questions that need
// exactly the asked capabilities, answered from the graph, confidence 100; `not-composable` where
// the scene cannot support the set; the exact-k verification rejects other sets and ill-posed
// programs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { comboKey } from "../../../src/methods/compact/combinations.js";
import {
  type CompactImage,
  needsExactly,
  WORLD_CONFIDENCE,
  worldTeacher,
} from "../../../src/methods/compact/teacher.js";
import { type Program, programCapabilities } from "../../../src/world/questions.js";
import { Rng } from "../../../src/world/rng.js";
import type { Scene, SceneObject } from "../../../src/world/scene.js";

const object = (id: number, o: Pick<SceneObject, "shape" | "color" | "cell" | "motion">): SceneObject => ({
  id,
  size: "large",
  x: 10,
  y: 10,
  r: 5,
  rgb: [0, 0, 0],
  touching: null,
  occluder: null,
  ...o,
});

/** A red star top left, a blue circle top right moving left, a green circle bottom right; a beach, no words. */
const scene: Scene = {
  kind: "scene",
  width: 64,
  height: 64,
  background: "beach",
  objects: [
    object(0, { shape: "star", color: "red", cell: 0, motion: null }),
    object(1, { shape: "circle", color: "blue", cell: 2, motion: "left" }),
    object(2, { shape: "circle", color: "green", cell: 8, motion: null }),
  ],
  words: [],
  prior: "independent",
  noiseSeed: 1,
};
const image: CompactImage = {
  id: "img",
  source: "img",
  image: { bytes: new Uint8Array(), mimeType: "image/png" },
  scene,
};
const teacher = worldTeacher({ synonymRate: 0 });

test("the world teacher writes questions needing exactly the asked set, verified, confidence 100", async () => {
  for (const caps of [
    ["color"],
    ["counting", "shape"],
    ["color", "spatial_recognition", "object_recognition"],
  ] as const) {
    let written = 0;
    for (let seed = 0; seed < 8; seed++) {
      const proposed = await teacher.propose(image, [...caps], new Rng(seed), "img/attempt-0");
      // The composer is seeded and may miss within its budget; what it writes must be right.
      if (!proposed.ok) {
        assert.equal(proposed.reason, "not-composable");
        continue;
      }
      written++;
      const p = proposed.proposal;
      assert.equal(p.confidence, WORLD_CONFIDENCE);
      assert.equal(comboKey(programCapabilities(p.program!)), comboKey([...caps]));
      assert.ok(p.question.endsWith("?") && p.answer !== "");
      assert.deepEqual(await teacher.verify(image, p, [...caps], "img/attempt-0"), { ok: true });
      // Verified against another set, the same question fails.
      assert.deepEqual(await teacher.verify(image, p, ["scene_understanding"], "img/attempt-0"), {
        ok: false,
        reason: "not-verified",
      });
    }
    assert.ok(written >= 4, `${caps.join("+")}: ${written} of 8 seeds wrote a question`);
  }
});

test("a set the scene cannot support is not-composable; no scene graph is its own reason", async () => {
  // No word in the scene: nothing to read.
  assert.deepEqual(await teacher.propose(image, ["text_recognition"], new Rng(0), "x"), {
    ok: false,
    reason: "not-composable",
  });
  const creature = { ...image, scene: undefined };
  assert.deepEqual(await teacher.propose(creature, ["color"], new Rng(0), "x"), {
    ok: false,
    reason: "no-scene-graph",
  });
  const proposal = { question: "q?", answer: "a", confidence: 100 };
  assert.deepEqual(await teacher.verify(image, proposal, ["color"], "x"), { ok: false, reason: "not-verified" });
});

test("the exact-k check: the program's capabilities equal the set, and it is well posed", () => {
  // "What color is the star?": color + object_recognition, one star: well posed.
  const starColor: Program = {
    op: "query",
    attribute: "color",
    ref: { target: "object", atoms: [{ kind: "noun", shape: "star" }] },
  };
  assert.equal(needsExactly(scene, starColor, ["color", "object_recognition"]), true);
  assert.equal(needsExactly(scene, starColor, ["object_recognition", "color"]), true, "order-free");
  assert.equal(needsExactly(scene, starColor, ["color"]), false, "one fewer");
  assert.equal(needsExactly(scene, starColor, ["color", "object_recognition", "counting"]), false, "one more");
  // "What color is the circle?": two circles, no single answer: the right set but not well posed.
  const circleColor: Program = {
    op: "query",
    attribute: "color",
    ref: { target: "object", atoms: [{ kind: "noun", shape: "circle" }] },
  };
  assert.equal(needsExactly(scene, circleColor, ["color", "object_recognition"]), false);
});
