// The supervised ceiling's records on a tiny built pool: exactly the pool's truth (descriptions
// under CHAIR's prompt, plain existence questions with their answers in the base's prompt forms),
// the right counts, seeded and reproducible, provenance saying ground truth; drops reason-coded.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { chairBench } from "../../../src/eval/chair.js";
import { worldVocabulary } from "../../../src/eval/world-benches.js";
import type { ChatImage } from "../../../src/images/chat-image.js";
import { poolItems } from "../../../src/methods/common/world-items.js";
import {
  DESCRIPTION_PROMPT,
  GROUND_TRUTH_MODEL,
  type GroundTruthOptions,
  groundTruthRecords,
  plainExistenceQuestions,
  poolTruthItems,
  type TruthItem,
} from "../../../src/methods/supervised/ground-truth.js";
import { SHORT_ANSWER_SUFFIX } from "../../../src/train/world-data.js";
import { buildSplit } from "../../../src/world/build.js";
import { parseWorldConfig } from "../../../src/world/index.js";
import { readWorldSplit } from "../../../src/world/read-split.js";
import type { WorldRecord } from "../../../src/world/splits.js";

const dir = mkdtempSync(join(tmpdir(), "supervised-truth-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// Unbiased like the default pool; existenceQuestions 2 so some scenes have fewer than 3 to pick.
const config = parseWorldConfig({
  seed: 5,
  image: { width: 32, height: 32 },
  words: { list: ["X", "Z"] },
  language: { existenceQuestions: 2 },
  splits: {
    pretraining: { scenes: 0, creatures: 0 },
    instruction: { scenes: 0, creatures: 0 },
    pool: { scenes: 10, creatures: 3 },
    validation: { scenes: 0, creatures: 0 },
    test: { scenes: 0, creatures: 0 },
  },
});

let truth: Map<string, WorldRecord>;
before(async () => {
  await buildSplit(config, { split: "pool", outDir: dir });
  truth = new Map(readWorldSplit(dir, "pool-truth").map((r) => [r.id, r]));
});

/** An image store in memory: content-addressed paths, as the dataset's store names them. */
const stored = new Map<string, ChatImage>();
async function imagePath(image: ChatImage): Promise<string> {
  const path = `images/${createHash("sha256").update(image.bytes).digest("hex")}.png`;
  stored.set(path, image);
  return path;
}
const options = (over: Partial<GroundTruthOptions> = {}): GroundTruthOptions => ({
  stage: "supervised",
  seed: 3,
  questionsPerImage: 1,
  imagePath,
  ...over,
});

/** The question a record's user turn asks: "<image>\n{question}", the suffix half the time. */
function asked(prompt: string): { question: string; suffixed: boolean } {
  assert.ok(prompt.startsWith("<image>\n"), prompt);
  const body = prompt.slice("<image>\n".length);
  const suffix = `\n${SHORT_ANSWER_SUFFIX}`;
  return body.endsWith(suffix)
    ? { question: body.slice(0, -suffix.length), suffixed: true }
    : { question: body, suffixed: false };
}

test("the description prompt is CHAIR's, taken from the base's description prompts", () => {
  assert.equal(DESCRIPTION_PROMPT, "<image>\nDescribe this image in detail.");
  assert.equal(DESCRIPTION_PROMPT, chairBench(worldVocabulary().objects).defaultGeneration.promptTemplate);
});

test("poolTruthItems: the images poolItems draws, each with its record of pool-truth.jsonl", () => {
  const items = poolTruthItems(dir, 9, 4);
  assert.deepEqual(
    items.map((i) => i.id),
    poolItems(dir, 9, 4).map((i) => i.id),
  );
  for (const item of items) {
    assert.deepEqual(item.truth, truth.get(item.id));
    assert.deepEqual(Buffer.from(item.image.bytes), readFileSync(join(dir, item.truth.image)));
  }
});

test("records: each image's true description, then its existence questions with their true answers", async () => {
  const items = poolTruthItems(dir, 99, 3);
  assert.equal(items.length, 13);
  for (const perImage of [1, 2, 3]) {
    const result = await groundTruthRecords(items, options({ questionsPerImage: perImage }));
    assert.deepEqual(result.dropped, []);
    let wantQuestions = 0;
    let fewer = 0;
    for (const item of items) {
      const t = truth.get(item.id)!;
      const own = result.records.filter((r) => r.provenance.source === item.id);
      const [description, ...questions] = own;
      // The description record: the true description under CHAIR's prompt, the image stored.
      assert.equal(description.id, `${item.id}/description`);
      assert.deepEqual(description.messages, [
        { role: "user", content: DESCRIPTION_PROMPT },
        { role: "assistant", content: t.description },
      ]);
      assert.deepEqual(stored.get(description.images[0]), item.image);
      // The questions: distinct plain existence questions of the scene, each with its own answer.
      const existence = plainExistenceQuestions(t);
      const want = t.kind === "scene" ? Math.min(perImage, existence.length) : 0;
      if (t.kind === "scene") {
        assert.ok(existence.length >= 1, `${item.id} has existence questions`);
        if (existence.length < perImage) fewer++;
      }
      assert.equal(questions.length, want, item.id);
      wantQuestions += want;
      const seen = new Set<string>();
      questions.forEach((r, j) => {
        assert.equal(r.id, `${item.id}/existence-${j}`);
        assert.deepEqual(r.images, description.images);
        const { question } = asked(r.messages[0].content);
        const q = existence.find((e) => e.question === question);
        assert.ok(q, `${r.id}: '${question}' is one of the scene's existence questions`);
        assert.match(question, /^(Is there|Can you see|Does the image show) an? [a-z]+( in the image)?\?$/);
        assert.equal(r.messages[1].content, q.answer);
        assert.ok(q.answer === "yes" || q.answer === "no");
        assert.ok(!seen.has(question), "no question twice");
        seen.add(question);
      });
    }
    assert.equal(result.descriptions, 13);
    assert.equal(result.questions, wantQuestions);
    assert.equal(result.fewerQuestions, fewer);
    assert.equal(result.records.length, 13 + wantQuestions);
    assert.equal(new Set(result.records.map((r) => r.id)).size, result.records.length);
    if (perImage === 3) assert.ok(fewer > 0, "some scene has fewer than 3 (existenceQuestions: 2)");
  }
});

test("provenance: method supervised, reasons ground-truth, the stage, its seed and the source image", async () => {
  const items = poolTruthItems(dir, 5, 3);
  const { records } = await groundTruthRecords(items, options({ stage: "ceiling", seed: 11 }));
  for (const r of records) {
    assert.deepEqual(r.provenance, {
      method: "supervised",
      stage: "ceiling",
      model: GROUND_TRUTH_MODEL,
      seed: 11,
      reasons: ["ground-truth"],
      source: r.id.split("/")[0],
    });
  }
});

test("seeded per image: the same seed gives the same records, whatever the other items; seeds vary the picks", async () => {
  const items = poolTruthItems(dir, 99, 3);
  const once = await groundTruthRecords(items, options({ questionsPerImage: 1 }));
  assert.deepEqual(await groundTruthRecords(items, options({ questionsPerImage: 1 })), once);
  // An image's records do not depend on the items around it.
  const reversed = await groundTruthRecords([...items].reverse(), options({ questionsPerImage: 1 }));
  const byId = (rs: typeof once.records) => new Map(rs.map((r) => [r.id, r]));
  assert.deepEqual(byId(reversed.records), byId(once.records));
  // Over seeds, the questions picked and their prompt forms vary.
  const prompts = new Set<string>();
  const forms = new Set<boolean>();
  for (const seed of [0, 1, 2, 3, 4, 5]) {
    for (const r of (await groundTruthRecords(items, options({ seed }))).records) {
      if (r.id.endsWith("/description")) continue;
      prompts.add(`${r.id} ${r.messages[0].content}`);
      forms.add(asked(r.messages[0].content).suffixed);
    }
  }
  assert.ok(prompts.size > once.questions, "the seed changes the picks");
  assert.deepEqual([...forms].sort(), [false, true], "both of the base's question forms");
});

test("questionsPerImage 0: descriptions only; creatures never get questions", async () => {
  const items = poolTruthItems(dir, 99, 3);
  const none = await groundTruthRecords(items, options({ questionsPerImage: 0 }));
  assert.equal(none.records.length, 13);
  assert.ok(none.records.every((r) => r.id.endsWith("/description")));
  const creatures = items.filter((i) => i.truth.kind === "creature");
  assert.equal(creatures.length, 3);
  for (const c of creatures) {
    assert.ok((c.truth.questions ?? []).length > 0, "creatures have questions in the truth");
    assert.deepEqual(plainExistenceQuestions(c.truth), []);
  }
});

test("an image whose truth has no description is dropped (no-description), questions and all", async () => {
  const items = poolTruthItems(dir, 6, 3);
  const scene = items.find((i) => i.truth.kind === "scene")!;
  const blank = items.find((i) => i !== scene)!;
  const edited: TruthItem[] = items.map((i) => {
    if (i === scene) return { ...i, truth: { ...i.truth, description: undefined } };
    if (i === blank) return { ...i, truth: { ...i.truth, description: "  " } };
    return i;
  });
  const result = await groundTruthRecords(edited, options({ questionsPerImage: 2 }));
  assert.deepEqual(result.dropped, [
    ...[scene, blank]
      .sort((a, b) => items.indexOf(a) - items.indexOf(b))
      .map((i) => ({ itemId: i.id, reason: "no-description" })),
  ]);
  assert.ok(result.records.every((r) => r.provenance.source !== scene.id && r.provenance.source !== blank.id));
  assert.equal(result.descriptions, 4);
  const whole = await groundTruthRecords(items, options({ questionsPerImage: 2 }));
  assert.deepEqual(
    result.records,
    whole.records.filter((r) => r.provenance.source !== scene.id && r.provenance.source !== blank.id),
  );
});
