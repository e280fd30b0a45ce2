// General instruction data from an SFT file (src/methods/common/general-data.ts): every format read
// as whole conversations (every turn of a multi-turn entry kept), reason-coded drops, and bad input
// (a malformed line, markers that do not match the images, a missing or broken image) refused
// naming the file and the line, with nothing stored.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ImageStore } from "../../../src/data/image-store.js";
import type { SftRecord } from "../../../src/data/records.js";
import {
  checkGeneralImages,
  describeGeneralFile,
  type GeneralFileSource,
  GeneralSourceSchema,
  generalFileRecords,
  needGeneral,
  readGeneralFile,
  writeGeneralDrops,
} from "../../../src/methods/common/general-data.js";
import { cleanup, jpeg, png, readJsonl, tempDir } from "../../data/fixtures.js";

after(cleanup);
const dir = tempDir("general-data");
before(async () => {
  mkdirSync(join(dir, "coco"), { recursive: true });
  writeFileSync(join(dir, "coco", "a.png"), await png());
  writeFileSync(join(dir, "coco", "b.jpg"), await jpeg());
  writeFileSync(join(dir, "coco", "broken.png"), "not a png");
});

const jsonl = (name: string, entries: unknown[]) => {
  const path = join(dir, name);
  writeFileSync(path, `${entries.map((e) => JSON.stringify(e)).join("\n")}\n`);
  return path;
};
const file = (path: string, format: "canonical" | "llava" | "sharegpt"): GeneralFileSource => ({
  source: "file",
  path,
  format,
});
let stores = 0;
function store() {
  const root = join(dir, `store-${stores++}`);
  const s = new ImageStore(root);
  const stored = () => (existsSync(join(root, "images")) ? readdirSync(join(root, "images")) : []);
  return {
    root,
    stored,
    imagePath: (i: { bytes: Uint8Array; mimeType: "image/png" | "image/jpeg" }) => s.put(i.bytes, i.mimeType),
  };
}
const options = (imagePath: ReturnType<typeof store>["imagePath"]) => ({
  method: "sts",
  stage: "sts-round1",
  path: "data/general.jsonl",
  imagePath,
});

test("the default source is the world's; a file source names its path and format", () => {
  assert.deepEqual(GeneralSourceSchema.parse({ source: "sceneworld" }), { source: "sceneworld" });
  assert.throws(() => GeneralSourceSchema.parse({ source: "file", path: "x.json" }), /format/);
  assert.throws(() => GeneralSourceSchema.parse({ source: "file", path: "x", format: "alpaca" }));
});

test("sharegpt: each entry one whole conversation (every turn kept), drops with reason codes", async () => {
  const path = jsonl("sharegpt.jsonl", [
    {
      id: "multi",
      messages: [
        { role: "system", content: "Answer briefly." },
        { role: "user", content: [{ type: "image" }, { type: "text", text: "What is it?" }] },
        { role: "assistant", content: "A red square." },
        { role: "user", content: "And its size?" },
        { role: "assistant", content: "Small." },
        { role: "user", content: "Thanks, and the colour again?" },
      ],
      images: ["coco/a.png"],
    },
    {
      conversations: [
        { from: "human", value: "Hi" },
        { from: "gpt", value: "Hello." },
      ],
    },
    {
      id: "empty",
      conversations: [
        { from: "human", value: "<image>Q?" },
        { from: "gpt", value: " " },
      ],
      images: ["coco/a.png"],
    },
    {
      id: "two",
      conversations: [
        { from: "human", value: "<image><image>Same?" },
        { from: "gpt", value: "No." },
      ],
      images: ["coco/a.png", "coco/b.jpg"],
    },
    {
      id: "jpeg",
      conversations: [
        { from: "human", value: "<image>Colour?" },
        { from: "gpt", value: "Blue." },
      ],
      image: "coco/b.jpg",
    },
  ]);
  const read = readGeneralFile(file(path, "sharegpt"));
  assert.deepEqual(
    read.conversations.map((c) => [c.id, c.messages.length, c.entry.where]),
    [
      ["general/multi", 4, `${path} line 1 (id "multi")`],
      ["general/line-2", 2, `${path} line 2 (id "line-2")`],
      ["general/jpeg", 2, `${path} line 5 (id "jpeg")`],
    ],
  );
  // The system prompt leads the first user turn; the last question, never answered, is left out.
  assert.deepEqual(read.conversations[0].messages, [
    { role: "user", content: "Answer briefly.\n\n<image>\nWhat is it?" },
    { role: "assistant", content: "A red square." },
    { role: "user", content: "And its size?" },
    { role: "assistant", content: "Small." },
  ]);
  assert.deepEqual(read.dropped, [
    { itemId: "general/empty", reason: "empty-answer" },
    { itemId: "general/two", reason: "multi-image" },
  ]);
  assert.equal(
    describeGeneralFile(read),
    `${path}: 3 general conversations of 5; dropped {"empty-answer":1,"multi-image":1}`,
  );

  const s = store();
  const records = await generalFileRecords(read.conversations, options(s.imagePath));
  assert.deepEqual(
    records.map((r) => [r.id, r.images.length, r.provenance.model, r.provenance.source, r.provenance.reasons]),
    [
      ["general/multi", 1, "dataset:data/general.jsonl", "multi", ["general-instruction"]],
      ["general/line-2", 0, "dataset:data/general.jsonl", "line-2", ["general-instruction"]],
      ["general/jpeg", 1, "dataset:data/general.jsonl", "jpeg", ["general-instruction"]],
    ],
  );
  assert.match(records[2].images[0], /^images\/[0-9a-f]{64}\.jpg$/);
  assert.deepEqual(s.stored().length, 2);

  writeGeneralDrops(s.root, read);
  assert.deepEqual(readJsonl(join(s.root, "general-drops.jsonl")), read.dropped);
});

test("llava and canonical: whole conversations too; a text-only LLaVA entry with a marker is an error", async () => {
  const llava = join(dir, "llava.json");
  writeFileSync(
    llava,
    JSON.stringify(
      [
        {
          id: 7,
          image: "coco/a.png",
          conversations: [
            { from: "human", value: "What is it?" },
            { from: "gpt", value: "A square." },
            { from: "human", value: "Colour?" },
            { from: "gpt", value: "Red." },
          ],
        },
      ],
      null,
      2,
    ),
  );
  const read = readGeneralFile(file(llava, "llava"));
  assert.deepEqual(read.conversations[0].messages, [
    { role: "user", content: "<image>\nWhat is it?" },
    { role: "assistant", content: "A square." },
    { role: "user", content: "Colour?" },
    { role: "assistant", content: "Red." },
  ]);

  const marker = join(dir, "marker.json");
  writeFileSync(
    marker,
    JSON.stringify([
      {
        id: "t",
        conversations: [
          { from: "human", value: "<image>\nHi" },
          { from: "gpt", value: "Hey." },
        ],
      },
    ]),
  );
  assert.throws(
    () => readGeneralFile(file(marker, "llava")),
    new RegExp(`${marker} line 1 \\(id "t"\\): 0 image\\(s\\) but 1 <image> marker\\(s\\)`),
  );

  // Canonical records (a selfsynth SFT file): images in the file's store.
  const root = join(dir, "canonical");
  const s = new ImageStore(root);
  const image = await s.put(await png(), "image/png");
  const record: SftRecord = {
    kind: "sft",
    id: "c1",
    images: [image],
    messages: [
      { role: "user", content: "<image>\nQ1?" },
      { role: "assistant", content: "A1." },
      { role: "user", content: "Q2?" },
      { role: "assistant", content: "A2." },
    ],
    provenance: { method: "world", stage: "instruction", model: "truth" },
  };
  writeFileSync(join(root, "sft.jsonl"), `${JSON.stringify(record)}\n`);
  const canonical = readGeneralFile(file(join(root, "sft.jsonl"), "canonical"));
  assert.deepEqual(canonical.conversations[0].messages, record.messages);
  const records = await generalFileRecords(canonical.conversations, options(store().imagePath));
  assert.deepEqual(records[0].images, [image]);
});

test("bad input names the file and the line, and nothing is stored", async () => {
  const good = {
    id: "ok",
    conversations: [
      { from: "human", value: "<image>Q?" },
      { from: "gpt", value: "A." },
    ],
    images: ["coco/a.png"],
  };
  const missing = jsonl("missing.jsonl", [good, { ...good, id: "gone", images: ["coco/nope.png"] }]);
  const s = store();
  await assert.rejects(
    generalFileRecords(readGeneralFile(file(missing, "sharegpt")).conversations, options(s.imagePath)),
    new RegExp(`${missing} line 2 \\(id "gone"\\): image "coco/nope.png" not found in ${dir}`),
  );
  assert.deepEqual(s.stored(), [], "the good entry's image was not stored either");

  const broken = jsonl("broken.jsonl", [good, { ...good, id: "bad", images: ["coco/broken.png"] }]);
  await assert.rejects(
    checkGeneralImages(readGeneralFile(file(broken, "sharegpt")).conversations),
    new RegExp(`${broken} line 2 \\(id "bad"\\): image`),
  );

  const malformed = join(dir, "malformed.jsonl");
  writeFileSync(malformed, `${JSON.stringify(good)}\n{"id": "b", "messages": "hi"}\n`);
  assert.throws(
    () => readGeneralFile(file(malformed, "sharegpt")),
    new RegExp(`${malformed} line 2: not a ShareGPT entry: messages: expected a list`),
  );
  const notJson = join(dir, "not-json.jsonl");
  writeFileSync(notJson, `${JSON.stringify(good)}\n{"id": "b",\n`);
  assert.throws(() => readGeneralFile(file(notJson, "sharegpt")), new RegExp(`${notJson} line 2: not JSON`));

  const twice = jsonl("twice.jsonl", [good, good]);
  assert.throws(() => readGeneralFile(file(twice, "sharegpt")), /line 2 \(id "ok"\): duplicate id \(first on line 1\)/);

  const few = readGeneralFile(file(jsonl("few.jsonl", [good]), "sharegpt"));
  assert.throws(
    () => needGeneral(few, 3, "the mix"),
    /few\.jsonl: the mix needs 3 general conversations; the file has 1 usable \(0 dropped\)/,
  );
  needGeneral(few, 1, "the mix");
});
