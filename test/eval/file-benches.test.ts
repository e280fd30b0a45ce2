// Benchmarks from standard files: POPE question files and COCO annotations over an image folder,
// with tiny fixtures written here (two images made with sharp, a POPE file, an instances file).
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import type { ChairItem } from "../../src/eval/chair.js";
import {
  loadCocoChair,
  loadPopeFile,
  popeQuestionObject,
  skippedSummary,
  writeSkipped,
} from "../../src/eval/file-benches.js";
import type { PopeItem } from "../../src/eval/pope.js";
import { cleanup, jpeg, png, tempDir } from "../data/fixtures.js";

after(cleanup);

async function imageFolder(): Promise<string> {
  const dir = tempDir("bench-images");
  writeFileSync(join(dir, "a.png"), await png());
  writeFileSync(join(dir, "b.jpg"), await jpeg());
  writeFileSync(join(dir, "broken.jpg"), "not a jpeg");
  return dir;
}

const popeLine = (id: number, image: string, object: string, label: string) =>
  JSON.stringify({ question_id: id, image, text: `Is there a ${object} in the image?`, label });

test("POPE's template names the object; another wording names none", () => {
  assert.equal(popeQuestionObject("Is there a fire hydrant in the image?"), "fire hydrant");
  assert.equal(popeQuestionObject("Is there an apple in the image?"), "apple");
  assert.equal(popeQuestionObject("Do you see a cat?"), "");
});

test("a POPE file: one item per question, its label the truth; bad images skipped with reasons", async () => {
  const images = await imageFolder();
  const questions = join(tempDir("pope"), "coco_pope_adversarial.json");
  writeFileSync(
    questions,
    [
      popeLine(1, "a.png", "dog", "yes"),
      popeLine(2, "a.png", "cat", "no"),
      popeLine(3, "b.jpg", "fork", "yes"),
      popeLine(4, "gone.jpg", "cup", "no"),
      popeLine(5, "broken.jpg", "cup", "no"),
    ].join("\n"),
  );
  const { bench, items, skipped } = await loadPopeFile({ questions, images });
  assert.equal(bench.name, "pope");
  assert.deepEqual(
    (items as PopeItem[]).map((i) => [i.id, i.imageId, i.object, i.label, i.image.mimeType]),
    [
      ["1", "a.png", "dog", "yes", "image/png"],
      ["2", "a.png", "cat", "no", "image/png"],
      ["3", "b.jpg", "fork", "yes", "image/jpeg"],
    ],
  );
  assert.equal(items[0].image, items[1].image, "one read per image file");
  assert.deepEqual(
    skipped.map((s) => [s.item_id, s.image, s.reason]),
    [
      ["4", "gone.jpg", "missing"],
      ["5", "broken.jpg", "not_an_image"],
    ],
  );
  // --limit 2: only the first two questions, so only a.png is read.
  const limited = await loadPopeFile({ questions, images, limit: 2 });
  assert.deepEqual([limited.items.length, limited.skipped.length], [2, 0]);
});

function instances(dir: string): string {
  const path = join(dir, "instances.json");
  writeFileSync(
    path,
    JSON.stringify({
      images: [
        { id: 10, file_name: "a.png" },
        { id: 11, file_name: "b.jpg" },
        { id: 12, file_name: "gone.jpg" },
      ],
      annotations: [
        { image_id: 10, category_id: 1 },
        { image_id: 10, category_id: 64 },
        { image_id: 11, category_id: 4 },
      ],
      categories: [
        { id: 1, name: "person" },
        { id: 4, name: "motorcycle" },
        { id: 64, name: "potted plant" },
      ],
    }),
  );
  return path;
}

test("COCO annotations: one item per image, truth its categories plus its captions' objects", async () => {
  const images = await imageFolder();
  const dir = tempDir("coco");
  const annotations = instances(dir);
  const captions = join(dir, "captions.json");
  // Image 11's caption names a dog (puppy) and a motorbike (motorcycle, already annotated).
  writeFileSync(captions, JSON.stringify({ annotations: [{ image_id: 11, caption: "A puppy beside a motorbike." }] }));
  const { bench, items, skipped } = await loadCocoChair({ annotations, images, captions });
  assert.equal(bench.name, "chair");
  assert.equal(bench.defaultGeneration.promptTemplate, "<image>\nPlease describe this image in detail.");
  assert.deepEqual(
    (items as ChairItem[]).map((i) => [i.id, i.objects]),
    [
      ["10", ["person", "potted plant"]],
      ["11", ["motorcycle", "dog"]],
    ],
  );
  assert.deepEqual(
    skipped.map((s) => [s.item_id, s.reason]),
    [["12", "missing"]],
  );
  const custom = await loadCocoChair({ annotations, images, prompt: "Describe the picture.", limit: 1 });
  assert.equal(custom.bench.defaultGeneration.promptTemplate, "<image>\nDescribe the picture.");
  assert.equal(custom.items.length, 1);
});

test("CHAIR over COCO refuses unknown categories and prompts it cannot send", async () => {
  const images = await imageFolder();
  const dir = tempDir("coco");
  const annotations = join(dir, "instances.json");
  writeFileSync(
    annotations,
    JSON.stringify({
      images: [{ id: 1, file_name: "a.png" }],
      annotations: [{ image_id: 1, category_id: 1 }],
      categories: [{ id: 1, name: "spaceship" }],
    }),
  );
  await assert.rejects(
    loadCocoChair({ annotations, images }),
    /category "spaceship" is not a COCO category CHAIR knows/,
  );
  const good = instances(dir);
  await assert.rejects(loadCocoChair({ annotations: good, images, prompt: " " }), /CHAIR prompt " " is empty/);
  await assert.rejects(loadCocoChair({ annotations: good, images, prompt: "<image> Describe." }), /<image> marker/);
  await assert.rejects(loadCocoChair({ annotations: good, images, prompt: "Describe {thing}." }), /\{placeholder\}/);
});

test("skips are written beside the records, and a stale file goes when nothing is skipped", () => {
  const out = join(tempDir("out"), "eval");
  const skipped = [
    { item_id: "4", image: "gone.jpg", reason: "missing" as const, message: "gone.jpg: no such file" },
    { item_id: "5", image: "broken.jpg", reason: "not_an_image" as const, message: "broken.jpg: not an image" },
  ];
  const path = writeSkipped(out, "pope", skipped);
  assert.equal(path, join(out, "pope.skipped.jsonl"));
  assert.deepEqual(
    readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l)),
    skipped,
  );
  assert.equal(skippedSummary("pope", skipped, 5), "2 of 5 pope items skipped (missing 1, not_an_image 1)");
  assert.equal(writeSkipped(out, "pope", []), null);
  assert.ok(!existsSync(path));
});
