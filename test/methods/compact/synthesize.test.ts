// COMPACT's per-image loop (src/methods/compact/synthesize.ts) with scripted teachers: the filters
// and the verification in order, at most `attempts` questions, the image kept with at least 2
// questions, each combination asked once, the conversation's first turn suffixed, every drop
// reason-coded.
import assert from "node:assert/strict";
import { test } from "node:test";
import { comboKey } from "../../../src/methods/compact/combinations.js";
import {
  compactChunk,
  conversation,
  type SynthesisOptions,
  synthesizeImage,
} from "../../../src/methods/compact/synthesize.js";
import type { CompactImage, Proposal, Proposed, Teacher, Verified } from "../../../src/methods/compact/teacher.js";
import type { Capability } from "../../../src/world/questions.js";

const OPTIONS: SynthesisOptions = {
  stage: "compact",
  seed: 3,
  k: { weights: [1, 1, 1] },
  questions: [2, 3],
  keepAtLeast: 2,
  attempts: 10,
  minConfidence: 70,
  duplicateOverlap: 0.6,
  confidence: "teacher",
};

const image = (id: string): CompactImage => ({
  id,
  source: id,
  image: { bytes: new Uint8Array([1, 2, 3]), mimeType: "image/png" },
});

/** A teacher whose answer to attempt n is script(capabilities, n); verification by `verify`. */
function scripted(
  script: (caps: readonly Capability[], n: number) => Proposed,
  verify: (p: Proposal) => Verified = () => ({ ok: true }),
) {
  const asked: string[] = [];
  const verified: string[] = [];
  const teacher: Teacher = {
    name: "scripted",
    async propose(_image, caps) {
      asked.push(comboKey(caps));
      return script(caps, asked.length - 1);
    },
    async verify(_image, p) {
      verified.push(p.question);
      return verify(p);
    },
    async close() {},
  };
  return { teacher, asked, verified };
}

/** A distinct question per attempt (no word shared beyond "about"), answered from the set. */
const distinct =
  (confidence = 95) =>
  (caps: readonly Capability[], n: number): Proposed => ({
    ok: true,
    proposal: { question: `Question${n} about ${caps.join(" ")}?`, answer: `answer${n}`, confidence },
  });

test("every question passing: the image keeps its target of 2 or 3, one attempt each, none dropped", async () => {
  const targets = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const { teacher, asked } = scripted(distinct());
    const out = await synthesizeImage(image(`img-${i}`), teacher, OPTIONS);
    assert.ok(out.target === 2 || out.target === 3);
    targets.add(out.target);
    assert.equal(out.kept.length, out.target);
    assert.equal(out.attempts, out.target);
    assert.deepEqual(out.dropped, []);
    assert.equal(new Set(asked).size, asked.length, "each combination asked once");
  }
  assert.deepEqual([...targets].sort(), [2, 3], "both targets occur");
});

test("at most `attempts` questions; an image with fewer than 2 kept gives a drop, each attempt its reason", async () => {
  const { teacher, asked } = scripted(() => ({ ok: false, reason: "not-composable" }));
  const out = await synthesizeImage(image("img"), teacher, OPTIONS);
  assert.equal(out.attempts, 10);
  assert.equal(asked.length, 10);
  assert.equal(new Set(asked).size, 10, "no combination asked twice");
  assert.deepEqual(
    out.dropped.map((d) => d.itemId),
    Array.from({ length: 10 }, (_, n) => `img/attempt-${n}`),
  );
  assert.ok(out.dropped.every((d) => d.reason === "not-composable"));
  const chunk = await compactChunk([image("img")], teacher, OPTIONS, async () => "images/x.png");
  assert.deepEqual(chunk.records, []);
  assert.deepEqual(chunk.dropped, [{ itemId: "img", reason: "too-few-questions" }]);
  assert.equal(chunk.partsDropped?.length, 10);
});

test("keep-if-at-least-2: one passing question drops the image, two keep it", async () => {
  // Only the first attempt passes verification.
  const one = scripted(distinct(), (p) =>
    p.question.startsWith("Question0 ") ? { ok: true } : { ok: false, reason: "not-verified" },
  );
  const chunk1 = await compactChunk([image("a")], one.teacher, OPTIONS, async () => "images/a.png");
  assert.deepEqual(chunk1.dropped, [{ itemId: "a", reason: "too-few-questions" }]);
  assert.equal(chunk1.partsDropped?.length, 9);
  assert.ok(chunk1.partsDropped?.every((d) => d.reason === "not-verified"));
  // The first two pass: kept, with two questions (whatever the target).
  const two = scripted(distinct(), (p) =>
    /^Question[01] /.test(p.question) ? { ok: true } : { ok: false, reason: "not-verified" },
  );
  const chunk2 = await compactChunk([image("b")], two.teacher, OPTIONS, async () => "images/b.png");
  assert.deepEqual(chunk2.dropped, []);
  assert.equal(chunk2.records.length, 1);
  assert.equal(chunk2.records[0].messages.length, 4, "two question turns");
});

test("filters run before verification, which only sees questions that passed them", async () => {
  // Attempts: 0 kept; 1 uninformative; 2 low confidence; 3 a near-duplicate of 0; 4 kept.
  const s = scripted((caps, n) => {
    const question =
      n === 0 || n === 3 ? "Is the star above everything here?" : `Question${n} about ${caps.join(" ")}?`;
    const answer = n === 1 ? "Not visible" : "yes";
    return { ok: true, proposal: { question, answer, confidence: n === 2 ? 40 : 95 } };
  });
  const out = await synthesizeImage(image("img"), s.teacher, { ...OPTIONS, questions: [2, 2] });
  assert.deepEqual(
    out.dropped.map((d) => [d.itemId, d.reason]),
    [
      ["img/attempt-1", "uninformative-answer"],
      ["img/attempt-2", "low-confidence"],
      ["img/attempt-3", "near-duplicate"],
    ],
  );
  assert.deepEqual(
    out.kept.map((q) => q.attempt),
    [0, 4],
  );
  assert.equal(s.verified.length, 2, "only the two that passed the filters were verified");
});

test("confidence: the teacher's by default; released-code sets 90, so 40 passes the paper's 70", async () => {
  const low = scripted(distinct(40));
  const paper = await synthesizeImage(image("img"), low.teacher, OPTIONS);
  assert.equal(paper.kept.length, 0);
  assert.ok(paper.dropped.every((d) => d.reason === "low-confidence"));
  const released = await synthesizeImage(image("img"), scripted(distinct(40)).teacher, {
    ...OPTIONS,
    confidence: "released-code",
  });
  assert.equal(released.kept.length, released.target);
  assert.ok(released.kept.every((q) => q.confidence === 90));
});

test("a fixed k asks only that k; per-question k mixes them; the same seed gives the same questions", async () => {
  const fixed = scripted(distinct());
  await synthesizeImage(image("img"), fixed.teacher, { ...OPTIONS, k: { fixed: 1 } });
  assert.ok(
    fixed.asked.every((key) => !key.includes("+")),
    fixed.asked.join(" "),
  );
  const ks = new Set<number>();
  for (let i = 0; i < 10; i++) {
    const s = scripted(distinct());
    const out = await synthesizeImage(image(`img-${i}`), s.teacher, OPTIONS);
    for (const q of out.kept) ks.add(q.capabilities.length);
  }
  assert.deepEqual([...ks].sort(), [1, 2, 3]);
  const a = await synthesizeImage(image("same"), scripted(distinct()).teacher, OPTIONS);
  const b = await synthesizeImage(image("same"), scripted(distinct()).teacher, OPTIONS);
  assert.deepEqual(a, b);
  const c = await synthesizeImage(image("same"), scripted(distinct()).teacher, { ...OPTIONS, seed: 4 });
  assert.notDeepEqual(
    a.kept.map((q) => q.capabilities),
    c.kept.map((q) => q.capabilities),
  );
});

test("the record: one conversation, the first turn with the image and the short-answer suffix", async () => {
  const s = scripted(distinct());
  const chunk = await compactChunk(
    [image("img-7")],
    s.teacher,
    { ...OPTIONS, questions: [3, 3] },
    async () => "images/p.png",
  );
  const [record] = chunk.records;
  assert.equal(record.id, "img-7");
  assert.deepEqual(record.images, ["images/p.png"]);
  const m = record.messages;
  assert.equal(m.length, 6);
  assert.match(m[0].content, /^<image>\nQuestion0 about .*\?\nAnswer the question using a single word or phrase\.$/);
  assert.match(m[2].content, /^Question1 about .*\?$/);
  assert.match(m[4].content, /^Question2 about .*\?$/);
  assert.deepEqual([m[1].content, m[3].content, m[5].content], ["answer0", "answer1", "answer2"]);
  assert.equal(record.provenance.method, "compact");
  assert.equal(record.provenance.model, "scripted");
  assert.equal(record.provenance.reasons?.length, 3);
  assert.match(record.provenance.reasons![0], /^k[123]:[a-z_+]+$/);
  assert.deepEqual(conversation([]), []);
});
