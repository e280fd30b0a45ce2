import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
// Every assert.ok carries a message: without one, node re-parses this (tsx-compiled) file to
// quote the failing expression.
import { setNumThreads } from "../../src/engine/index.js";
import { popeQuestion } from "../../src/eval/pope.js";
import { decodeImage, toModelInput } from "../../src/images/index.js";
import { collate } from "../../src/train/collate.js";
import { IGNORE_INDEX } from "../../src/train/types.js";
import {
  buildWorldTokenizer,
  CAPTION_PROMPTS,
  captionExamples,
  captionPairs,
  DESCRIPTION_PROMPTS,
  exampleTexts,
  ImageStore,
  instructionExamples,
  readWorld,
  recordTexts,
  resolveInside,
  SHORT_ANSWER_SUFFIX,
  SPECIES_EXPLAIN_PROMPT,
  tokenizeWorldExamples,
  unknownWords,
  WorldDataError,
  type WorldExample,
} from "../../src/train/world-data.js";
import { buildSplit } from "../../src/world/build.js";
import {
  configHash,
  parseWorldConfig,
  SHAPES,
  SYNONYMS,
  splitRecords,
  type WorldRecord,
} from "../../src/world/index.js";
import { readWorldSplit } from "../../src/world/read-split.js";

setNumThreads(1);
const root = mkdtempSync(join(tmpdir(), "world-data-test-"));
after(() => rmSync(root, { recursive: true, force: true }));

const config = parseWorldConfig({
  seed: 5,
  splits: {
    pretraining: { scenes: 14, creatures: 4 },
    instruction: { scenes: 8, creatures: 4 },
    pool: { scenes: 0, creatures: 0 },
    validation: { scenes: 0, creatures: 0 },
    test: { scenes: 0, creatures: 0 },
  },
});
let pretraining: WorldRecord[];
let instruction: WorldRecord[];

before(async () => {
  await buildSplit(config, { split: "pretraining", outDir: root });
  await buildSplit(config, { split: "instruction", outDir: root });
  pretraining = readWorldSplit(root, "pretraining");
  instruction = readWorldSplit(root, "instruction");
});

test("prompts are pinned (a change to a prompt must be deliberate)", () => {
  assert.deepEqual(CAPTION_PROMPTS, [
    "<image>\nDescribe the image briefly.",
    "<image>\nGive a short caption for this image.",
    "<image>\nWrite a brief caption for the picture.",
    "<image>\nSummarize the image in one sentence.",
    "<image>\nWhat is in this picture? Answer briefly.",
    "<image>\nCaption this image.",
  ]);
  // The first is CHAIR's prompt (src/eval/chair.ts); the suffix and species prompt are the benches'.
  assert.equal(DESCRIPTION_PROMPTS[0], "<image>\nDescribe this image in detail.");
  assert.equal(SHORT_ANSWER_SUFFIX, "Answer the question using a single word or phrase.");
  assert.equal(SPECIES_EXPLAIN_PROMPT, "What species is this creature? Explain which visual features show it.");
});

test("readWorld reads the resolved config and its hash", () => {
  const w = readWorld(root);
  assert.equal(w.configHash, configHash(config));
  assert.throws(() => readWorld(join(root, "images")), WorldDataError);
  assert.throws(() => readWorldSplit(root, "test"), /test\.jsonl not found/);
});

test("pretraining records become caption examples with varied prompts", () => {
  const examples = captionExamples(pretraining);
  assert.equal(examples.length, pretraining.length);
  examples.forEach((e, i) => {
    const r = pretraining[i];
    assert.equal(e.kind, "caption");
    assert.equal(e.image, r.image);
    assert.equal(e.messages.length, 2);
    assert.ok((CAPTION_PROMPTS as readonly string[]).includes(e.messages[0].content), e.messages[0].content);
    assert.equal(e.messages[1].role, "assistant");
    assert.equal(e.messages[1].content, r.caption);
  });
  assert.ok(new Set(examples.map((e) => e.messages[0].content)).size >= 3, "prompts vary");
  assert.deepEqual(captionExamples(pretraining), examples, "deterministic");
  assert.notDeepEqual(
    captionExamples(pretraining, 1).map((e) => e.messages[0].content),
    examples.map((e) => e.messages[0].content),
    "the seed changes the prompts",
  );
  assert.deepEqual(
    captionPairs(pretraining),
    pretraining.map((r) => ({ image: r.image, text: r.caption })),
  );
});

test("instruction records become one description and one example per question", () => {
  const examples = instructionExamples(instruction);
  const questions = instruction.flatMap((r): unknown[] => r.questions ?? []);
  assert.equal(examples.filter((e) => e.kind === "description").length, instruction.length);
  assert.equal(examples.filter((e) => e.kind === "question").length, questions.length);
  let suffixed = 0;
  for (const r of instruction) {
    const mine = examples.filter((e) => e.recordId === r.id);
    const [description, ...qs] = mine;
    assert.equal(description.kind, "description");
    assert.ok((DESCRIPTION_PROMPTS as readonly string[]).includes(description.messages[0].content), "a prompt");
    assert.equal(description.messages[1].content, r.description);
    assert.equal(qs.length, r.questions?.length);
    qs.forEach((e, i) => {
      const q = r.questions![i];
      const prompt = e.messages[0].content;
      assert.equal(e.messages[1].content, q.answer, "the answer as the world writes it");
      if ("task" in q && q.task === "explain") {
        assert.ok([`<image>\n${q.question}`, `<image>\n${SPECIES_EXPLAIN_PROMPT}`].includes(prompt), prompt);
      } else if (prompt.endsWith(SHORT_ANSWER_SUFFIX)) {
        assert.equal(prompt, `<image>\n${q.question}\n${SHORT_ANSWER_SUFFIX}`);
        suffixed++;
      } else {
        assert.equal(prompt, `<image>\n${q.question}`);
      }
      if ("task" in q && q.task !== "explain") assert.ok(q.answer.split(" ").length <= 3, `short: ${q.answer}`);
    });
  }
  assert.ok(suffixed > 0 && suffixed < questions.length, `some, not all, short-answer suffixes (${suffixed})`);
});

test("images load as (3, S, S) bytes equal to the model's input; paths stay inside the world", async () => {
  const paths = pretraining.slice(0, 4).map((r) => r.image);
  const store = await ImageStore.load(root, [...paths, paths[0]], 64);
  assert.equal(store.count, 4);
  assert.equal(store.byteLength, 4 * 3 * 64 * 64);
  for (const p of paths) {
    const want = await toModelInput(await decodeImage(readFileSync(join(root, p))), 64);
    const got = store.pixels(p);
    assert.equal(got.length, want.length);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    assert.ok(worst < 1e-6, `pixels differ by ${worst}`);
  }
  const small = await ImageStore.load(root, paths.slice(0, 1), 32);
  assert.equal(small.get(paths[0]).length, 3 * 32 * 32);
  assert.throws(() => store.get("images/nope.png"), /was not loaded/);
  assert.throws(() => resolveInside(root, "../outside.png"), /escapes the world directory/);
  await assert.rejects(ImageStore.load(root, ["images/missing.png"], 64), /cannot read image/);
});

test("collate turns byte images into floats in [0, 1]", () => {
  const bytes = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
  const batch = collate([{ inputIds: [1, 2], labels: [1, 2], image: bytes }], { padId: 0, imageShape: [3, 2, 2] });
  const values = batch.pixelValues!.toArray();
  values.forEach((v, i) => {
    assert.ok(Math.abs(v - (i * 20) / 255) < 1e-6, `pixel ${i}: ${v}`);
  });
  for (const t of [batch.inputIds, batch.labels, batch.attentionMask, batch.pixelValues!]) t.dispose();
});

test("tokenized examples: image tokens and prompt carry no loss, the answer and <|end|> do", async () => {
  const examples: WorldExample[] = [...captionExamples(pretraining), ...instructionExamples(instruction)];
  const tokenizer = buildWorldTokenizer(config, exampleTexts(examples));
  const store = await ImageStore.load(
    root,
    examples.map((e) => e.image),
    64,
  );
  const tokenized = tokenizeWorldExamples(tokenizer, examples, store, { numImageTokens: 64, maxPositions: 512 });
  const s = tokenizer.specialIds;
  tokenized.forEach((t, i) => {
    const e = examples[i];
    assert.equal(t.image, store.get(e.image), "the cached bytes, shared");
    assert.equal(t.inputIds.filter((id) => id === s.image).length, 64);
    const learned = t.labels.filter((l) => l !== IGNORE_INDEX);
    assert.equal(learned.at(-1), s.end);
    assert.equal(tokenizer.decode(learned.slice(0, -1)), tokenizer.decode(tokenizer.encode(e.messages[1].content)));
    t.inputIds.forEach((id, j) => {
      if (id === s.image) assert.equal(t.labels[j], IGNORE_INDEX);
      assert.notEqual(id, s.unk, `${e.recordId}: <unk> at ${j}`);
    });
  });
  assert.throws(
    () => tokenizeWorldExamples(tokenizer, examples, store, { numImageTokens: 64, maxPositions: 80 }),
    /exceed the model's maxPositions 80/,
  );
});

test("the tokenizer knows every word the world can write and every eval prompt", () => {
  const tokenizer = buildWorldTokenizer(config, exampleTexts(captionExamples(pretraining)));
  // Another seed and the unbiased splits (prior-breaking scenes): none of these texts was seen.
  const other = parseWorldConfig({ seed: 99, splits: { test: { scenes: 400, creatures: 100 } } });
  const texts = [...splitRecords(other, "test")].flatMap(recordTexts);
  assert.deepEqual(unknownWords(tokenizer, texts), []);
  const evalPrompts = [
    "<image>\nDescribe this image in detail.",
    `<image>\nWhat color is the star?\n${SHORT_ANSWER_SUFFIX}`,
    `<image>\n${SPECIES_EXPLAIN_PROMPT}`,
    ...SHAPES.flatMap((s) => SYNONYMS[s]).map((o) => `<image>\n${popeQuestion(o)}`),
  ];
  assert.deepEqual(unknownWords(tokenizer, evalPrompts), []);
  assert.deepEqual(unknownWords(tokenizer, ["a zebra"]), ["zebra"], "unknownWords finds unknown words");
});
