import assert from "node:assert/strict";
import { test } from "node:test";
import {
  describeImages,
  type InstructionItem,
  infuseDescription,
  infusedRecords,
} from "../../../src/methods/stic/infused.js";
import { imageTurn, PAPER_PROMPTS, SCENEWORLD_PROMPTS } from "../../../src/methods/stic/prompts.js";
import { FakeVlm, imagePath, testImage } from "./fake-vlm.js";

test("infuseDescription: the marker first, then the description block, then the question", () => {
  const want = "<image>\nImage description:\nA red circle.\n\nWhat colour is the circle?";
  assert.equal(infuseDescription("<image>\nWhat colour is the circle?", "A red circle."), want);
  // A marker at the end (LLaVA data has some) moves to the front.
  assert.equal(infuseDescription("What colour is the circle?\n<image>", "A red circle."), want);
  assert.equal(infuseDescription("<image>What colour is the circle?", "A red circle."), want);
  // No marker: no image turn, the description still comes first.
  assert.equal(infuseDescription("Hi?", "D."), "Image description:\nD.\n\nHi?");
  assert.equal(
    infuseDescription("<image>\n<image>\nCompare.", "D."),
    "<image>\n<image>\nImage description:\nD.\n\nCompare.",
  );
});

async function items(count: number): Promise<InstructionItem[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => ({
      id: `q${i}`,
      image: await testImage(i),
      question:
        i % 2 === 0 ? `<image>\nHow many objects are there? (${i})` : `How many objects are there? (${i})\n<image>`,
      answer: `${i}`,
    })),
  );
}

test("describeImages asks the describe prompt per image, seeded per request id, in item order", async () => {
  const vlm = new FakeVlm();
  const list = await items(5);
  const out = await describeImages(vlm, list, { chunkSize: 2, seed: 3 });
  assert.equal(vlm.calls.length, 3);
  assert.deepEqual(
    out.map((d) => d.id),
    ["q0", "q1", "q2", "q3", "q4"],
  );
  for (const c of vlm.calls) {
    assert.equal(c.params.temperature, 0.2);
    assert.equal(c.params.seed, 3);
    for (const r of c.requests) {
      assert.equal(r.messages[0].content, imageTurn(PAPER_PROMPTS.describe));
      assert.match(r.id!, /^q\d\/describe$/);
    }
  }
  assert.ok(out.every((d) => d.prompt === PAPER_PROMPTS.describe && d.description.startsWith("answer ")));
  // Chunking does not change a description.
  assert.deepEqual(await describeImages(new FakeVlm(), list, { chunkSize: 5, seed: 3 }), out);

  const random = await describeImages(new FakeVlm(), await items(40), { promptChoice: "random-plain" });
  assert.ok(new Set(random.map((d) => d.prompt)).size > 4);
  assert.ok(random.every((d) => PAPER_PROMPTS.plain.includes(d.prompt)));
  const sw = await describeImages(new FakeVlm(), list, { prompts: SCENEWORLD_PROMPTS, temperature: 0 });
  assert.ok(sw.every((d) => d.prompt === "Describe this image in detail."));
});

test("infusedRecords: exact user turns, the original answers, provenance, drops", async () => {
  const list = await items(4);
  const descriptions = [
    { id: "q0", description: "Two red circles.", prompt: "p" },
    { id: "q1", description: "A blue star.", prompt: "p" },
    { id: "q3", description: "  ", prompt: "p" },
  ];
  const out = await infusedRecords(list, descriptions, {
    stage: "stic-infused",
    model: "fake:stage1",
    imagePath,
    seed: 3,
    sampling: { temperature: 0.2, max_tokens: 1024 },
  });
  assert.deepEqual(out.dropped, [
    { itemId: "q2", reason: "no-description" },
    { itemId: "q3", reason: "empty-description" },
  ]);
  assert.equal(out.records.length, 2);
  const [a, b] = out.records;
  assert.deepEqual(a.messages, [
    { role: "user", content: "<image>\nImage description:\nTwo red circles.\n\nHow many objects are there? (0)" },
    { role: "assistant", content: "0" },
  ]);
  assert.equal(b.messages[0].content, "<image>\nImage description:\nA blue star.\n\nHow many objects are there? (1)");
  assert.deepEqual(a.images, [await imagePath(list[0].image)]);
  assert.equal(a.kind, "sft");
  assert.deepEqual(a.provenance, {
    method: "stic",
    stage: "stic-infused",
    model: "fake:stage1",
    seed: 3,
    sampling: { temperature: 0.2, max_tokens: 1024 },
    reasons: ["description-infused"],
    source: "q0",
  });
  await assert.rejects(
    infusedRecords([{ ...list[0], question: "<image>\n<image>\nWhy?" }], descriptions, {
      stage: "s",
      model: "m",
      imagePath,
    }),
    /item q0: the question holds 2 <image> markers for 1 image/,
  );
});
