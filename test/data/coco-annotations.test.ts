// COCO instance and caption annotation files: each image's categories, refused references.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { readCocoCaptions, readCocoInstances } from "../../src/data/coco-annotations.js";
import { cleanup, tempDir } from "./fixtures.js";

after(cleanup);

function file(content: unknown): string {
  const path = join(tempDir("coco"), "instances_val2014.json");
  writeFileSync(path, JSON.stringify(content));
  return path;
}

const categories = [
  { id: 1, name: "person", supercategory: "person" },
  { id: 18, name: "dog", supercategory: "animal" },
];

test("each image with its categories once, in annotation order; images without annotations kept", () => {
  const path = file({
    info: {},
    images: [
      { id: 42, file_name: "COCO_val2014_000000000042.jpg", width: 640, height: 480 },
      { id: 7, file_name: "b.png" },
    ],
    annotations: [
      { id: 1, image_id: 42, category_id: 18, bbox: [0, 0, 1, 1], segmentation: [] },
      { id: 2, image_id: 42, category_id: 1 },
      { id: 3, image_id: 42, category_id: 18 },
    ],
    categories,
  });
  assert.deepEqual(readCocoInstances(path), [
    { id: "42", fileName: "COCO_val2014_000000000042.jpg", categories: ["dog", "person"] },
    { id: "7", fileName: "b.png", categories: [] },
  ]);
});

test("unknown images or categories, repeated images and missing fields are refused by name", () => {
  const images = [{ id: 1, file_name: "a.png" }];
  assert.throws(
    () => readCocoInstances(file({ images, annotations: [{ image_id: 2, category_id: 1 }], categories })),
    /annotations\[0\]\.image_id 2 is not in images/,
  );
  assert.throws(
    () => readCocoInstances(file({ images, annotations: [{ image_id: 1, category_id: 99 }], categories })),
    /annotations\[0\]\.category_id 99 is not in categories/,
  );
  assert.throws(
    () => readCocoInstances(file({ images: [...images, ...images], annotations: [], categories })),
    /images\[1\]\.id 1 is listed twice/,
  );
  assert.throws(
    () => readCocoInstances(file({ images: [{ id: 1 }], annotations: [], categories })),
    /COCO instances file .*instances_val2014\.json: images\[0\]\.file_name: /,
  );
});

test("captions grouped by image id", () => {
  const path = file({
    annotations: [
      { image_id: 1, id: 10, caption: "A dog." },
      { image_id: 2, id: 11, caption: "A cat." },
      { image_id: 1, id: 12, caption: "A puppy on a sofa." },
    ],
  });
  assert.deepEqual(
    readCocoCaptions(path),
    new Map([
      ["1", ["A dog.", "A puppy on a sofa."]],
      ["2", ["A cat."]],
    ]),
  );
});
