// BPO's positives: the sources (a built instruction split, canonical SFT records, LLaVA JSON,
// TRL / LLaMA-Factory sharegpt), every assistant turn a positive, reason-coded drops, and bad input refused with the file
// and line named before any image is stored.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ImageStore } from "../../../src/data/image-store.js";
import type { SftRecord } from "../../../src/data/records.js";
import {
  canonicalPositives,
  guessStyle,
  llavaPositives,
  positiveOf,
  positiveRecords,
  sharegptPositives,
  worldPositives,
} from "../../../src/methods/bpo/positives.js";
import { DESCRIPTION_PROMPTS, SHORT_ANSWER_SUFFIX } from "../../../src/train/world-data.js";
import { buildSplit } from "../../../src/world/build.js";
import { parseWorldConfig } from "../../../src/world/index.js";
import { readWorldSplit } from "../../../src/world/read-split.js";
import { testImage } from "../stic/fake-vlm.js";

const dir = mkdtempSync(join(tmpdir(), "bpo-positives-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const world = join(dir, "world");
const config = parseWorldConfig({
  seed: 3,
  image: { width: 32, height: 32 },
  words: { list: ["X", "Z"] },
  splits: {
    pretraining: { scenes: 0, creatures: 0 },
    instruction: { scenes: 5, creatures: 2 },
    pool: { scenes: 0, creatures: 0 },
    validation: { scenes: 0, creatures: 0 },
    test: { scenes: 0, creatures: 0 },
  },
});
let png: Uint8Array;
before(async () => {
  await buildSplit(config, { split: "instruction", outDir: world });
  png = (await testImage(3, 16)).bytes;
});

const words = (n: number) => Array.from({ length: n }, () => "ring").join(" ");
let stores = 0;
/** A fresh image store and the options positiveRecords needs. */
function storeOptions() {
  const root = join(dir, `store-${stores++}`);
  const store = new ImageStore(root);
  return {
    root,
    options: {
      stage: "bpo",
      seed: 0,
      origin: "dataset:test",
      imagePath: (image: { bytes: Uint8Array; mimeType: "image/png" | "image/jpeg" }) =>
        store.put(image.bytes, image.mimeType),
    },
  };
}
const storedImages = (root: string) => (existsSync(join(root, "images")) ? readdirSync(join(root, "images")) : []);

function llavaFile(name: string, entries: unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(entries, null, 2));
  return path;
}

test("sceneworld: descriptions and questions of the instruction split, in the base's prompt forms", () => {
  const records = readWorldSplit(world, "instruction");
  const all = worldPositives(world, { descriptions: 4, questions: 6 }, 0);
  const descriptions = all.filter((c) => c.style === "description");
  const questions = all.filter((c) => c.style === "qa");
  assert.equal(descriptions.length, 4);
  assert.equal(questions.length, 6);
  for (const c of descriptions) {
    const r = records.find((x) => `${x.id}/description` === c.id);
    assert.ok(r, c.id);
    assert.equal(c.answer, r.description);
    assert.ok((DESCRIPTION_PROMPTS as readonly string[]).includes(c.prompt[0].content), c.prompt[0].content);
    assert.equal(c.source, r.id);
  }
  for (const c of questions) {
    const [id, q] = c.id.split("/");
    const question = readWorldSplit(world, "instruction").find((x) => x.id === id)?.questions?.[Number(q.slice(1))];
    assert.ok(question, c.id);
    assert.equal(c.answer, question.answer);
    // As the base was taught: the question after the image marker, the short-answer suffix or not.
    const text = c.prompt[0].content;
    assert.ok(
      text === `<image>\n${question.question}` ||
        text === `<image>\n${question.question}\n${SHORT_ANSWER_SUFFIX}` ||
        (question as { task?: string }).task === "explain",
      text,
    );
  }
  assert.equal(new Set(all.map((c) => c.id)).size, 10, "unique ids");
  // Seeded: the same seed draws the same positives; another seed others.
  assert.deepEqual(
    worldPositives(world, { descriptions: 4, questions: 6 }, 0).map((c) => [c.id, c.prompt[0].content]),
    all.map((c) => [c.id, c.prompt[0].content]),
  );
  assert.notDeepEqual(
    worldPositives(world, { descriptions: 4, questions: 6 }, 1).map((c) => c.id),
    all.map((c) => c.id),
  );
  // More descriptions than images: one per image.
  assert.equal(worldPositives(world, { descriptions: 99, questions: 0 }, 0).length, 7);
});

test("llava: every gpt turn a positive; markers as LLaVA puts them; drops with reason codes", async () => {
  mkdirSync(join(dir, "imgs"), { recursive: true });
  writeFileSync(join(dir, "imgs", "a.png"), png);
  const path = llavaFile("llava.json", [
    {
      id: "a",
      image: "imgs/a.png",
      conversations: [
        { from: "human", value: "<image>\nWhat is it?" },
        { from: "gpt", value: "A ring." },
        { from: "human", value: "Describe it in detail." },
        { from: "gpt", value: "A large ring in the middle." },
      ],
    },
    {
      id: 7,
      image: "imgs/a.png",
      conversations: [
        { from: "human", value: "Color?" },
        { from: "gpt", value: " " },
      ],
    },
    {
      id: "text",
      conversations: [
        { from: "human", value: "Hi" },
        { from: "gpt", value: "Hello." },
      ],
    },
    {
      id: "long",
      image: "imgs/a.png",
      conversations: [
        { from: "human", value: "<image>\nDescribe." },
        { from: "gpt", value: words(351) },
      ],
    },
  ]);
  const candidates = llavaPositives(path, "auto");
  // JSON.stringify(entries, null, 2): "[", then per entry "{", id, image, "conversations": [,
  // 4 lines per turn, "]", "}": the first entry (4 turns) takes lines 2-23, the second starts on 24.
  assert.deepEqual(
    candidates.map((c) => [c.id, c.style]),
    [
      ["a/turn-0", "qa"],
      ["a/turn-1", "description"],
      ["7", "qa"],
      ["text", "qa"],
      ["long", "description"],
    ],
  );
  // The second turn is asked with the conversation before it.
  assert.deepEqual(
    candidates[1].prompt.map((t) => t.content),
    ["<image>\nWhat is it?", "A ring.", "Describe it in detail."],
  );
  // An entry with an image and no marker gets one in its first turn.
  assert.equal(candidates[2].prompt[0].content, "<image>\nColor?");
  assert.equal(candidates[2].where, `${path} line 24 (id "7")`);

  const { root, options } = storeOptions();
  const result = await positiveRecords(candidates, options);
  assert.deepEqual(result.dropped, [
    { itemId: "7", reason: "empty-answer" },
    { itemId: "text", reason: "no-image" },
    { itemId: "long", reason: "positive-too-long" },
  ]);
  assert.deepEqual(
    result.records.map((r) => r.id),
    ["a/turn-0", "a/turn-1"],
  );
  const second = result.records[1];
  assert.deepEqual(second.messages.at(-1), { role: "assistant", content: "A large ring in the middle." });
  assert.deepEqual(second.provenance.reasons, ["positive", "style:description"]);
  assert.equal(second.provenance.method, "bpo");
  assert.equal(storedImages(root).length, 1, "one image, stored once");
  // Read back as the pair stage reads it.
  const p = positiveOf(second);
  assert.deepEqual(
    [p.id, p.style, p.answer, p.prompt.length, p.source],
    ["a/turn-1", "description", "A large ring in the middle.", 3, "a"],
  );
});

test("llava: a missing or broken image is an error naming file and line, and nothing is stored", async () => {
  writeFileSync(join(dir, "imgs", "broken.png"), "not a png");
  const good = {
    id: "ok",
    image: "imgs/a.png",
    conversations: [
      { from: "human", value: "<image>\nQ?" },
      { from: "gpt", value: "A." },
    ],
  };
  // Each entry of two turns takes 14 lines: the second starts on line 16.
  const missing = llavaFile("missing.json", [good, { ...good, id: "gone", image: "imgs/nope.png" }]);
  const { root, options } = storeOptions();
  await assert.rejects(
    positiveRecords(llavaPositives(missing, "auto"), options),
    new RegExp(`${missing} line 16 \\(id "gone"\\): image "imgs/nope.png" not found in ${join(dir)}`),
  );
  assert.deepEqual(storedImages(root), [], "the good entry's image was not stored either");

  const broken = llavaFile("broken.json", [good, { ...good, id: "bad", image: "imgs/broken.png" }]);
  await assert.rejects(
    positiveRecords(llavaPositives(broken, "auto"), storeOptions().options),
    new RegExp(`${broken} line 16 \\(id "bad"\\): image`),
  );

  const outside = llavaFile("escape.json", [{ ...good, image: "../../etc/passwd" }]);
  await assert.rejects(positiveRecords(llavaPositives(outside, "auto"), storeOptions().options), /escapes/);

  const twice = llavaFile("twice.json", [good, good]);
  assert.throws(
    () => llavaPositives(twice, "auto"),
    new RegExp(`${twice} line 16 \\(id "ok"\\): duplicate id \\(first on line 2\\)`),
  );

  const markers = llavaFile("markers.json", [
    {
      ...good,
      conversations: [
        { from: "human", value: "<image>\n<image>\nQ?" },
        { from: "gpt", value: "A." },
      ],
    },
  ]);
  assert.throws(() => llavaPositives(markers, "auto"), /line 2 \(id "ok"\): 2 <image> markers for one image/);
});

test("sharegpt: TRL's typed messages and LLaMA-Factory's conversations, JSON Lines; every answer a positive", async () => {
  mkdirSync(join(dir, "imgs"), { recursive: true });
  writeFileSync(join(dir, "imgs", "a.png"), png);
  const path = join(dir, "sharegpt.jsonl");
  const lines = [
    {
      id: "trl",
      messages: [
        { role: "system", content: "Answer briefly." },
        { role: "user", content: [{ type: "image" }, { type: "text", text: "What is it?" }] },
        { role: "assistant", content: [{ type: "text", text: "A ring." }] },
        { role: "user", content: [{ type: "text", text: "Describe it in detail." }] },
        { role: "assistant", content: [{ type: "text", text: "A large ring in the middle." }] },
      ],
      images: ["imgs/a.png"],
    },
    {
      id: "lf",
      conversations: [
        { from: "human", value: "<image>Is there a star?" },
        { from: "gpt", value: "No." },
      ],
      images: ["imgs/a.png"],
    },
    {
      id: "empty",
      messages: [
        { role: "user", content: "Color?" },
        { role: "assistant", content: [] },
      ],
      images: ["imgs/a.png"],
    },
    {
      id: "text",
      conversations: [
        { from: "human", value: "Hi" },
        { from: "gpt", value: "Hello." },
      ],
    },
    {
      id: "two",
      conversations: [
        { from: "human", value: "<image><image>Same?" },
        { from: "gpt", value: "Yes." },
      ],
      images: ["imgs/a.png", "imgs/a.png"],
    },
  ];
  writeFileSync(path, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
  const candidates = sharegptPositives(path, "auto");
  assert.deepEqual(
    candidates.map((c) => [c.id, c.style, c.imageCount, c.where]),
    [
      ["trl/turn-0", "qa", 1, `${path} line 1 (id "trl")`],
      ["trl/turn-1", "description", 1, `${path} line 1 (id "trl")`],
      ["lf", "qa", 1, `${path} line 2 (id "lf")`],
      ["empty", "qa", 1, `${path} line 3 (id "empty")`],
      ["text", "qa", 0, `${path} line 4 (id "text")`],
      ["two", "qa", 2, `${path} line 5 (id "two")`],
    ],
  );
  // The second answer is asked with the conversation before it; the system prompt leads the first turn.
  assert.deepEqual(
    candidates[1].prompt.map((t) => t.content),
    ["Answer briefly.\n\n<image>\nWhat is it?", "A ring.", "Describe it in detail."],
  );
  assert.equal(candidates[2].prompt[0].content, "<image>Is there a star?");

  const { root, options } = storeOptions();
  const result = await positiveRecords(candidates, options);
  assert.deepEqual(result.dropped, [
    { itemId: "empty", reason: "empty-answer" },
    { itemId: "text", reason: "no-image" },
    { itemId: "two", reason: "multi-image" },
  ]);
  assert.deepEqual(
    result.records.map((r) => [r.id, r.messages.at(-1)?.content, r.provenance.source]),
    [
      ["trl/turn-0", "A ring.", "trl"],
      ["trl/turn-1", "A large ring in the middle.", "trl"],
      ["lf", "No.", "lf"],
    ],
  );
  assert.equal(storedImages(root).length, 1, "one image, stored once");
});

test("sharegpt: a missing or broken image, or a malformed entry, names file and line; nothing is stored", async () => {
  writeFileSync(join(dir, "imgs", "broken.png"), "not a png");
  const good = {
    id: "ok",
    messages: [
      { role: "user", content: [{ type: "image" }, { type: "text", text: "Q?" }] },
      { role: "assistant", content: "A." },
    ],
    images: ["imgs/a.png"],
  };
  const write = (name: string, entries: unknown[]) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(entries, null, 2));
    return path;
  };
  // JSON.stringify(.., 2): each entry takes 24 lines, the second starts on line 26.
  const missing = write("sharegpt-missing.json", [good, { ...good, id: "gone", images: ["imgs/nope.png"] }]);
  const { root, options } = storeOptions();
  await assert.rejects(
    positiveRecords(sharegptPositives(missing, "auto"), options),
    new RegExp(`${missing} line 26 \\(id "gone"\\): image "imgs/nope.png" not found in ${join(dir)}`),
  );
  assert.deepEqual(storedImages(root), [], "the good entry's image was not stored either");

  const broken = write("sharegpt-broken.json", [good, { ...good, id: "bad", images: ["imgs/broken.png"] }]);
  await assert.rejects(
    positiveRecords(sharegptPositives(broken, "auto"), storeOptions().options),
    new RegExp(`${broken} line 26 \\(id "bad"\\): image`),
  );

  const outside = write("sharegpt-escape.json", [{ ...good, images: ["../../etc/passwd"] }]);
  await assert.rejects(positiveRecords(sharegptPositives(outside, "auto"), storeOptions().options), /escapes/);

  const malformed = join(dir, "sharegpt-malformed.jsonl");
  writeFileSync(malformed, `${JSON.stringify(good)}\n${JSON.stringify({ ...good, id: "b", messages: "hi" })}\n`);
  assert.throws(
    () => sharegptPositives(malformed, "auto"),
    new RegExp(`${malformed} line 2: not a ShareGPT entry: messages: expected a list`),
  );
});

test("canonical records: read and checked by the record schema; a missing image names file and line", async () => {
  const root = join(dir, "canonical");
  const store = new ImageStore(root);
  const image = await store.put(png, "image/png");
  const record = (id: string, answer: string, images = [image]): SftRecord => ({
    kind: "sft",
    id,
    images,
    messages: [
      { role: "user", content: `${images.map(() => "<image>\n").join("")}Describe this image in detail.` },
      { role: "assistant", content: answer },
    ],
    provenance: { method: "world", stage: "instruction", model: "truth" },
  });
  const path = join(root, "sft.jsonl");
  writeFileSync(
    path,
    `${[record("r1", "A ring."), record("r2", ""), record("r3", "Text only.", [])].map((r) => JSON.stringify(r)).join("\n")}\n`,
  );
  const candidates = canonicalPositives(path, "auto");
  assert.deepEqual(
    candidates.map((c) => [c.id, c.style, c.imageCount, c.where]),
    [
      ["r1", "description", 1, `${path} line 1 (id "r1")`],
      ["r2", "description", 1, `${path} line 2 (id "r2")`],
      ["r3", "description", 0, `${path} line 3 (id "r3")`],
    ],
  );
  const result = await positiveRecords(candidates, storeOptions().options);
  assert.deepEqual(
    result.records.map((r) => r.id),
    ["r1"],
  );
  assert.deepEqual(
    result.dropped.map((d) => d.reason),
    ["empty-answer", "no-image"],
  );

  const gone = join(root, "gone.jsonl");
  const missing = record("m1", "A ring.", [`images/${"0".repeat(64)}.png`]);
  writeFileSync(gone, `${JSON.stringify(record("r1", "A ring."))}\n${JSON.stringify(missing)}\n`);
  assert.throws(
    () => canonicalPositives(gone, "auto"),
    new RegExp(`${gone} line 2: images\\[0\\]: images/0+\\.png does not exist`),
  );

  const preference = join(root, "pairs.jsonl");
  writeFileSync(preference, `${JSON.stringify({ ...record("p", "x"), kind: "preference" })}\n`);
  assert.throws(() => canonicalPositives(preference, "auto"), new RegExp(`${preference} line 1: invalid record`));
});

test("style: a description request gets description mode unless the recipe says", () => {
  const turn = (content: string) => [{ role: "user" as const, content }];
  assert.equal(guessStyle(turn("<image>\nDescribe this image in detail."), "auto"), "description");
  assert.equal(guessStyle(turn("Give a detailed description of the image."), "auto"), "description");
  assert.equal(guessStyle(turn("<image>\nIs there a star?"), "auto"), "qa");
  assert.equal(guessStyle(turn("<image>\nIs there a star?"), "description"), "description");
});
