import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { readLlavaFile } from "../../src/data/llava-json.js";
import { cleanup, textFiles } from "./fixtures.js";

after(cleanup);
const file = textFiles("bpo-llava");
const entry = (id: string | number, answer = "A dog.") =>
  JSON.stringify({
    id,
    image: "a.png",
    conversations: [
      { from: "human", value: "<image>\nWhat is this?" },
      { from: "gpt", value: answer },
    ],
  });

test("a JSON array, pretty-printed: each entry with the line it starts on", () => {
  const text = JSON.stringify(
    [JSON.parse(entry("a")), JSON.parse(entry(7, 'He said "hi, [there]" {ok}')), JSON.parse(entry("c"))],
    null,
    2,
  );
  const entries = readLlavaFile(file(text));
  assert.deepEqual(
    entries.map((e) => [e.entry.id, e.line]),
    // Each entry of JSON.stringify(.., 2) takes 14 lines ("{", id, image, "conversations": [,
    // two turns of 4 lines, "]", "}"), after the "[" line.
    [
      ["a", 2],
      [7, 16],
      ["c", 30],
    ],
  );
  assert.equal(entries[1].entry.conversations[1].value, 'He said "hi, [there]" {ok}');
  assert.deepEqual(readLlavaFile(file("[]")), []);
});

test("JSON Lines: one entry per line, blank lines skipped", () => {
  const entries = readLlavaFile(file(`${entry("a")}\n\n${entry("b")}\n`, "jsonl"));
  assert.deepEqual(
    entries.map((e) => [e.entry.id, e.line]),
    [
      ["a", 1],
      ["b", 3],
    ],
  );
});

test("errors name the file and the line of the bad entry", () => {
  const broken = file(`[\n${entry("a")},\n{"id": "b", "conversations": [}\n]`);
  assert.throws(() => readLlavaFile(broken), new RegExp(`${broken} line 3: not JSON`));

  const order = file(
    `[\n${entry("a")},\n${JSON.stringify({
      id: "b",
      conversations: [
        { from: "gpt", value: "x" },
        { from: "human", value: "y" },
      ],
    })}\n]`,
  );
  assert.throws(
    () => readLlavaFile(order),
    new RegExp(`${order} line 3: not a LLaVA entry: conversations\\[0\\]\\.from: expected "human"`),
  );

  const noTurns = file(`${entry("a")}\n{"id": "b", "image": "x.png"}\n`, "jsonl");
  assert.throws(() => readLlavaFile(noTurns), new RegExp(`${noTurns} line 2: not a LLaVA entry: conversations`));

  const jsonlBroken = file(`${entry("a")}\n${entry("b").slice(0, 20)}\n`, "jsonl");
  assert.throws(() => readLlavaFile(jsonlBroken), new RegExp(`${jsonlBroken} line 2: not JSON`));
});

test("the array's own shape: not closed, text after it, a missing entry", () => {
  const cut = file(`[\n${entry("a")},\n${entry("b")}`);
  assert.throws(() => readLlavaFile(cut), /line 3: the JSON array is not closed \(is the file cut short\?\)/);
  const open = file(`[\n${entry("a")},\n${entry("b").slice(0, 30)}\n`);
  assert.throws(() => readLlavaFile(open), /line 3: not JSON: the entry starting here never closes/);
  const after = file(`[${entry("a")}]\n\nmore`);
  assert.throws(() => readLlavaFile(after), /line 3: text after the closing '\]' of the array/);
  const hole = file(`[\n${entry("a")},\n,${entry("b")}]`);
  assert.throws(() => readLlavaFile(hole), /line 3: expected an entry before ','/);
});

test("an unknown format or an empty file is refused with the file named", () => {
  const csv = file("id,image\n1,a.png\n", "csv");
  assert.throws(() => readLlavaFile(csv), new RegExp(`${csv} line 1: not LLaVA data: expected a JSON array`));
  const empty = file("  \n");
  assert.throws(() => readLlavaFile(empty), new RegExp(`${empty}: empty file`));
  assert.throws(() => readLlavaFile(join(dirname(empty), "missing.json")), /missing\.json: cannot read/);
});
