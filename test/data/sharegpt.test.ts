// The sharegpt reader (src/data/sharegpt.ts): TRL's conversational messages with typed content and
// LLaMA-Factory's sharegpt (from/value and role/content tags, <image> markers), JSON and JSON Lines,
// each entry with its line; malformed entries refused naming the file, the line and the field; our
// own TRL and LLaMA-Factory exports read back to the records they came from.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { llamaFactorySftSample } from "../../src/data/export/llamafactory.js";
import { trlSftRow } from "../../src/data/export/trl.js";
import type { SftRecord } from "../../src/data/records.js";
import { readShareGptFile } from "../../src/data/sharegpt.js";
import { cleanup, textFiles } from "./fixtures.js";

after(cleanup);
const file = textFiles("sharegpt");
const jsonl = (entries: unknown[]) => file(`${entries.map((e) => JSON.stringify(e)).join("\n")}\n`, "jsonl");
const array = (entries: unknown[]) => file(JSON.stringify(entries, null, 2));

const trl = (id: string, answer = "A red bus.") => ({
  id,
  messages: [
    { role: "user", content: [{ type: "image" }, { type: "text", text: "What is it?" }] },
    { role: "assistant", content: [{ type: "text", text: answer }] },
  ],
  images: ["a.png"],
});
const factory = (id: string) => ({
  id,
  conversations: [
    { from: "human", value: "<image>What is it?" },
    { from: "gpt", value: "A red bus." },
  ],
  images: ["a.png"],
});

test("TRL's typed content: image parts become markers at their places, text joined", () => {
  const path = jsonl([
    trl("a"),
    {
      messages: [
        { role: "system", content: [{ type: "text", text: "Be brief." }] },
        {
          role: "user",
          // Hugging Face datasets fill the other part's fields with null: accepted.
          content: [
            { type: "text", text: "Compare:", image: null },
            { type: "image", text: null },
            { type: "text", text: "left, and " },
            { type: "image" },
          ],
        },
        { role: "assistant", content: "Both are buses." },
        { role: "user", content: "Colours?" },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Red " },
            { type: "text", text: "and blue." },
          ],
        },
      ],
      images: ["x.png", "y.png"],
    },
  ]);
  const [a, b] = readShareGptFile(path);
  assert.deepEqual(a, {
    id: "a",
    line: 1,
    where: `${path} line 1 (id "a")`,
    list: "messages",
    system: undefined,
    turns: [
      { role: "user", content: "<image>\nWhat is it?" },
      { role: "assistant", content: "A red bus." },
    ],
    images: ["a.png"],
  });
  assert.equal(b.id, "line-2");
  assert.equal(b.system, "Be brief.");
  assert.deepEqual(
    b.turns.map((t) => t.content),
    ["Compare:<image>\nleft, and <image>", "Both are buses.", "Colours?", "Red and blue."],
  );
  assert.deepEqual(b.images, ["x.png", "y.png"]);
});

test("LLaMA-Factory's sharegpt: from/value or role/content tags, markers kept, the system field", () => {
  const path = array([
    { ...factory("f1"), system: "You describe images." },
    {
      id: 2,
      messages: [
        { role: "user", content: "Who is it?" },
        { role: "assistant", content: "A player." },
      ],
      images: ["b.png"],
    },
    {
      id: "text-only",
      conversations: [
        { from: "human", value: "Hi" },
        { from: "gpt", value: "Hello." },
      ],
    },
  ]);
  const [f1, two, text] = readShareGptFile(path);
  assert.deepEqual(
    [f1.id, f1.line, f1.list, f1.system, f1.turns[0].content, f1.images],
    ["f1", 2, "conversations", "You describe images.", "<image>What is it?", ["a.png"]],
  );
  // No marker at all: the image goes at the start of the first user turn.
  assert.deepEqual([two.id, two.list, two.turns[0].content], ["2", "messages", "<image>\nWho is it?"]);
  assert.deepEqual([text.images, text.turns[0].content], [[], "Hi"]);
  // A leading system message wins over the field (LLaMA-Factory's system tag overrides its column).
  const both = jsonl([
    {
      ...factory("s"),
      system: "field",
      conversations: [{ from: "system", value: "message" }, ...factory("s").conversations],
    },
  ]);
  assert.equal(readShareGptFile(both)[0].system, "message");
  // TRL's single `image` column reads as one image.
  const single = jsonl([{ ...trl("one"), images: undefined, image: "c.png" }]);
  assert.deepEqual(readShareGptFile(single)[0].images, ["c.png"]);
});

test("a JSON array: each entry with the line it starts on; JSON Lines skip blank lines", () => {
  const path = array([trl("a"), factory("b"), trl("c")]);
  // JSON.stringify(.., 2), after the "[" line: trl() takes 29 lines ("{", id, "messages": [, the
  // user turn's 12 and the assistant's 9, "]", 3 for images, "}"), factory() 16.
  assert.deepEqual(
    readShareGptFile(path).map((c) => [c.id, c.line]),
    [
      ["a", 2],
      ["b", 31],
      ["c", 47],
    ],
  );
  const lines = file(`${JSON.stringify(trl("a"))}\n\n${JSON.stringify(factory("b"))}\n`, "jsonl");
  assert.deepEqual(
    readShareGptFile(lines).map((c) => [c.id, c.line]),
    [
      ["a", 1],
      ["b", 3],
    ],
  );
});

test("malformed entries are refused with the file, the line and the field", () => {
  const bad = (entry: unknown, pattern: string) => {
    const path = jsonl([trl("ok"), entry]);
    assert.throws(() => readShareGptFile(path), new RegExp(`^ShareGptFormatError: ${path} line 2: ${pattern}`));
  };
  const notJson = file(`${JSON.stringify(trl("a"))}\n{"id": "b", "messages": [\n`, "jsonl");
  assert.throws(() => readShareGptFile(notJson), new RegExp(`${notJson} line 2: not JSON`));
  bad({ id: "x" }, 'not a ShareGPT entry: expected "messages" or "conversations"');
  bad({ ...trl("x"), conversations: [] }, 'not a ShareGPT entry: both "messages" and "conversations"');
  bad(
    { ...factory("x"), conversations: [{ from: "gpt", value: "A." }] },
    'not a ShareGPT entry: conversations\\[0\\]\\.from: expected a user turn, got "gpt"',
  );
  bad(
    {
      ...factory("x"),
      conversations: [...factory("x").conversations, { from: "observation", value: "{}" }],
    },
    'not a ShareGPT entry: conversations\\[2\\]\\.from: "observation": tool turns are not supported',
  );
  bad(
    { ...trl("x"), messages: [{ role: "user", content: "Q" }] },
    "not a ShareGPT entry: messages: expected at least a user turn and an assistant turn",
  );
  bad(
    { ...trl("x"), messages: [{ role: "user", content: [{ type: "video" }] }, trl("x").messages[1]] },
    'not a ShareGPT entry: messages\\[0\\]\\.content\\[0\\]\\.type: "video" is not supported',
  );
  bad(
    { ...trl("x"), messages: [{ role: "user", content: [{ type: "text" }] }, trl("x").messages[1]] },
    "not a ShareGPT entry: messages\\[0\\]\\.content\\[0\\]\\.text: expected a string, got undefined",
  );
  bad(
    { ...trl("x"), messages: [trl("x").messages[0], { role: "assistant", content: [{ type: "image" }] }] },
    "not a ShareGPT entry: messages\\[1\\]\\.content: an image in an assistant turn",
  );
  bad(
    { ...trl("x"), messages: [trl("x").messages[0], { role: "assistant", value: "A", content: "A" }] },
    'not a ShareGPT entry: messages\\[1\\]: both "content" and "value"',
  );
  bad({ ...trl("x"), images: [""] }, "not a ShareGPT entry: images\\[0\\]: expected a path");
  bad({ ...trl("x"), images: ["a.png", "b.png"] }, "not a ShareGPT entry: 2 image\\(s\\) but 1 image place\\(s\\)");
  bad({ ...factory("x"), images: [] }, "not a ShareGPT entry: 0 image\\(s\\) but 1 image place\\(s\\)");
  bad({ ...factory("x"), chosen: { from: "gpt", value: "A" } }, "not a ShareGPT entry: chosen/rejected");
  bad([], "not a ShareGPT entry: \\(entry\\): expected an object");

  const twice = array([trl("a"), factory("a")]);
  assert.throws(
    () => readShareGptFile(twice),
    new RegExp(`${twice} line 31 \\(id "a"\\): duplicate id \\(first on line 2\\)`),
  );
  const csv = file("id,image\n1,a.png\n", "csv");
  assert.throws(() => readShareGptFile(csv), new RegExp(`${csv} line 1: not ShareGPT data: expected a JSON array`));
  assert.throws(() => readShareGptFile(file(" \n")), /: empty file/);
});

test("our own TRL and LLaMA-Factory SFT exports read back to the records' turns", () => {
  const record: SftRecord = {
    kind: "sft",
    id: "r1",
    images: ["images/abc.png"],
    messages: [
      { role: "user", content: "<image>\nDescribe this image in detail." },
      { role: "assistant", content: "A red star." },
      { role: "user", content: "And the left?" },
      { role: "assistant", content: "A blue ring." },
    ],
    provenance: { method: "world", stage: "instruction", model: "truth" },
  };
  for (const row of [trlSftRow(record), llamaFactorySftSample(record)]) {
    const [read] = readShareGptFile(jsonl([row]));
    assert.deepEqual(read.turns, record.messages);
    assert.deepEqual(read.images, record.images);
  }
});
