// Concept selection over a training set: an image's negatives are the other images' anchors only,
// and its class's concepts are scored in the class's order.
import assert from "node:assert/strict";
import { test } from "node:test";
import { infoNceScores } from "../../../src/methods/sts/infonce.js";
import { selectForImages } from "../../../src/methods/sts/selection.js";

const vectors: Record<string, number[]> = {
  "fan tail": [1, 0, 0],
  "red body": [0, 1, 0],
  "long beak": [0, 0, 1],
  spots: [0.6, 0.8, 0],
};
const embed = (texts: readonly string[]) => texts.map((t) => vectors[t]);

test("C = the other images' descriptions: an image's own never count against its concepts", () => {
  const concepts = new Map([
    ["arbel", ["fan tail", "red body", "long beak"]],
    ["bosk", ["spots", "fan tail", "red body"]],
  ]);
  const a1 = [
    [1, 0, 0],
    [0.8, 0.6, 0],
  ];
  const a2 = [[0, 0.6, 0.8]];
  const a3 = [[0, 1, 0]];
  const images = [
    { id: "i1", label: "arbel", anchors: a1 },
    { id: "i2", label: "arbel", anchors: a2 },
    { id: "i3", label: "bosk", anchors: a3 },
  ];
  const got = selectForImages(images, concepts, embed, { tau: 0.1, stdFactor: 0.4, atLeast: 3 });
  // Image 1: A = its two descriptions, C = images 2 and 3's.
  const want1 = infoNceScores(a1, embed(concepts.get("arbel") as string[]), [...a2, ...a3], 0.1);
  assert.deepEqual(
    got[0].scores.map((s) => s.concept),
    ["fan tail", "red body", "long beak"],
  );
  got[0].scores.forEach((s, k) => {
    assert.ok(Math.abs(s.score - want1[k]) < 1e-9, `${s.concept}: ${s.score} vs ${want1[k]}`);
  });
  // Image 3 (bosk): C = images 1 and 2's.
  const want3 = infoNceScores(a3, embed(["spots", "fan tail", "red body"]), [...a1, ...a2], 0.1);
  got[2].scores.forEach((s, k) => {
    assert.ok(Math.abs(s.score - want3[k]) < 1e-9, s.concept);
  });
  // Three concepts per class: all kept, best first.
  assert.deepEqual(
    got[0].selected.map((s) => s.concept),
    [...got[0].scores].sort((x, y) => y.score - x.score).map((s) => s.concept),
  );
  assert.throws(
    () =>
      selectForImages([{ id: "x", label: "corla", anchors: a3 }], concepts, embed, {
        tau: 0.1,
        stdFactor: 0.4,
        atLeast: 3,
      }),
    /no concepts for class 'corla'/,
  );
});
