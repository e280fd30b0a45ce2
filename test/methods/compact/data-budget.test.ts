// COMPACT's data budget (src/methods/compact/data-budget.ts): the plan's counts by hand, the
// general examples as `pretrain base` makes them, the mix's share, the training file's checks.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { SftRecord } from "../../../src/data/records.js";
import {
  answerTurns,
  budgetPlan,
  generalExamples,
  mixGeneral,
  questionsByK,
  writeTrainingFile,
} from "../../../src/methods/compact/data-budget.js";
import { instructionExamples } from "../../../src/train/world-data.js";
import type { WorldRecord } from "../../../src/world/splits.js";

const dir = mkdtempSync(join(tmpdir(), "compact-budget-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the plan by hand: 10% of the default world's 91,453 examples, 5% of them general", () => {
  // 0.1 x 91453 = 9145.3 -> 9145; 0.05 x 91453 = 4572.65 -> 4573; 9145 - 4573 = 4572 COMPACT.
  assert.deepEqual(budgetPlan(91453, { fraction: 0.1, general: 0.05 }), {
    examples: 91453,
    total: 9145,
    general: 4573,
    method: 4572,
  });
  assert.deepEqual(budgetPlan(200, { fraction: 0.2, general: 0 }), {
    examples: 200,
    total: 40,
    general: 0,
    method: 40,
  });
  assert.throws(() => budgetPlan(100, { fraction: 0.05, general: 0.1 }), /exceeds the budget/);
});

const question = (q: string, a: string) => ({ question: q, answer: a, capabilities: ["color"], k: 1 });
const records = [
  {
    id: "instruction-s000001",
    kind: "scene",
    image: "images/instruction-s000001.png",
    description: "A red star.",
    questions: [question("What color is the star?", "red"), question("Is there a star?", "yes")],
  },
  {
    id: "instruction-s000002",
    kind: "scene",
    image: "images/instruction-s000002.png",
    questions: [question("How many?", "1")],
  },
] as unknown as WorldRecord[];

test("general examples: base's examples (prompts drawn with seed 0), one id per description and question", () => {
  const examples = generalExamples(records);
  assert.deepEqual(
    examples.map((e) => e.id),
    [
      "instruction-s000001/description",
      "instruction-s000001/question-0",
      "instruction-s000001/question-1",
      "instruction-s000002/question-0",
    ],
  );
  assert.deepEqual(
    examples.map((e) => e.messages),
    instructionExamples(records, 0).map((e) => e.messages),
  );
  assert.equal(examples[1].messages[1].content, "red");
  assert.equal(examples[3].image, "images/instruction-s000002.png");
});

const example = (i: number) => ({ id: `g${i}`, recordId: `r${i}`, image: `images/r${i}.png`, messages: [] });

test("the mix: exactly `general` examples drawn beside the COMPACT records, seeded, none of theirs", () => {
  const examples = Array.from({ length: 40 }, (_, i) => example(i));
  const compact = Array.from({ length: 5 }, (_, i) => ({ id: `c${i}` }));
  const drawn = mixGeneral(compact, examples, 5, 1);
  assert.equal(drawn.length, 5, "5 general beside 5 COMPACT: a share of 0.5");
  assert.equal(new Set(drawn.map((e) => e.id)).size, 5);
  assert.ok(drawn.every((e) => e.id.startsWith("g")));
  assert.deepEqual(mixGeneral(compact, examples, 5, 1), drawn, "same seed, same draw");
  assert.notDeepEqual(mixGeneral(compact, examples, 5, 2), drawn, "another seed, another draw");
  assert.deepEqual(mixGeneral(compact, examples, 0, 1), []);
  // The default budget's counts: 4573 general beside 4572 COMPACT records (share 0.50005...).
  const many = Array.from({ length: 91453 }, (_, i) => example(i));
  const ids = Array.from({ length: 4572 }, (_, i) => ({ id: `c${i}` }));
  assert.equal(mixGeneral(ids, many, 4573, 0).length, 4573);
  assert.throws(() => mixGeneral(compact, examples.slice(0, 3), 5, 1), /needs 5 general records; 3 given/);
  assert.throws(() => mixGeneral([{ id: "g1" }], examples, 39, 1), /both a method record and a general one/);
});

const sft = (id: string, turns = 1): SftRecord => ({
  kind: "sft",
  id,
  images: [],
  messages: Array.from({ length: turns }, (_, i) => [
    { role: "user" as const, content: `q${i}` },
    { role: "assistant" as const, content: `a${i}` },
  ]).flat(),
  provenance: { method: "compact", stage: "s", model: "m" },
});

test("the training file: validated, unique ids, written whole; answer turns counted", () => {
  const path = join(dir, "train.jsonl");
  writeTrainingFile(dir, path, [sft("a", 3), sft("b")]);
  assert.deepEqual(
    readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).id),
    ["a", "b"],
  );
  assert.equal(answerTurns([sft("a", 3), sft("b")]), 4);
  assert.throws(() => writeTrainingFile(dir, path, [sft("a"), sft("a")]), /duplicate id "a"/);
  const bad = { ...sft("c"), messages: [{ role: "user" as const, content: "q" }] };
  assert.throws(() => writeTrainingFile(dir, path, [bad]), /record 0 \(id "c"\)/);
  assert.deepEqual(
    readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).id),
    ["a", "b"],
    "a refused write leaves the file as it was",
  );
});

test("COMPACT questions by k, from the records' reasons (general records have none)", () => {
  const withReasons = (id: string, reasons: string[]) => ({
    ...sft(id),
    provenance: { ...sft(id).provenance, reasons },
  });
  assert.deepEqual(
    questionsByK([
      withReasons("a", ["k1:color", "k3:color+counting+shape"]),
      withReasons("b", ["k1:shape", "k2:color+shape"]),
      withReasons("c", ["general-instruction"]),
    ]),
    { "1": 2, "2": 1, "3": 1 },
  );
});
