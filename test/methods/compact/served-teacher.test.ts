// The served teacher (src/methods/compact/served-teacher.ts): prompt snapshots, the JSON answers
// parsed with zod (a malformed one gives its reason code), the verification rule, and the requests
// it sends (the paper's sampling, the image with the question request, none with verification).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import {
  extractJsonObject,
  judgeVerification,
  PAPER_TEACHER_SAMPLING,
  parseTeacherAnswer,
  questionPrompt,
  servedTeacher,
  verificationPrompt,
} from "../../../src/methods/compact/served-teacher.js";
import type { CompactImage } from "../../../src/methods/compact/teacher.js";
import { CAPABILITIES } from "../../../src/world/questions.js";
import { Rng } from "../../../src/world/rng.js";
import { FakeVlm, testImage } from "../stic/fake-vlm.js";

const digest = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);

test("prompt snapshots: a change to a COMPACT prompt is deliberate (update the digest with it)", () => {
  assert.equal(digest(questionPrompt(["counting", "color"])), "b3230a7fbd8cc62a");
  assert.equal(
    digest(verificationPrompt("How many red stars are there?", "2", ["counting", "color"])),
    "d12a7f819cbf0b71",
  );
});

test("the question prompt carries the image, k, the asked set in canonical order, every definition and the rules", () => {
  const p = questionPrompt(["scene_understanding", "counting", "color"]);
  assert.ok(p.startsWith("<image>\n"));
  assert.equal(p.split("<image>").length - 1, 1, "one image marker");
  assert.match(p, /exactly these 3 visual capabilities, no more and no fewer: color, counting, scene_understanding\./);
  for (const c of CAPABILITIES) assert.match(p, new RegExp(`^- ${c}: `, "m"));
  assert.match(p, /do not join two questions with "and"/);
  assert.match(p, /"confidence"/);
  assert.match(questionPrompt(["shape"]), /exactly these 1 visual capability,/);
  const v = verificationPrompt("Q?", "A", ["shape"]);
  assert.ok(!v.includes("<image>"), "verification is text only, as the released code asks");
  assert.match(v, /Question: Q\?\nAnswer: A\n/);
  assert.match(v, /"capabilities_used"/);
});

test("teacher answers: JSON, fenced, with prose around, the released {questions: [...]} form", () => {
  const want = { question: "How many red stars are there?", answer: "2", confidence: 85 };
  const json = JSON.stringify(want);
  for (const text of [
    json,
    `\`\`\`json\n${json}\n\`\`\``,
    `Sure! Here it is:\n${json}\nHope this helps.`,
    JSON.stringify({ questions: [want, { ...want, question: "other" }] }),
    JSON.stringify({ ...want, answer: 2, confidence: "85" }),
  ])
    assert.deepEqual(parseTeacherAnswer(text), { ok: true, value: want }, text);
});

test("a malformed teacher answer is dropped with reason malformed-answer", () => {
  for (const text of [
    "I cannot see the image.",
    '{"question": "How many?", "answer": "2"', // cut short
    JSON.stringify({ question: "How many?", answer: "2" }), // no confidence
    JSON.stringify({ question: "How many?", answer: "2", confidence: 150 }),
    JSON.stringify({ question: "How many?", answer: "2", confidence: "very" }),
    JSON.stringify({ question: "  ", answer: "2", confidence: 90 }),
    JSON.stringify({ questions: [] }),
  ]) {
    const parsed = parseTeacherAnswer(text);
    assert.equal(parsed.ok, false, text);
    if (!parsed.ok) assert.equal(parsed.reason, "malformed-answer");
  }
  assert.equal(extractJsonObject("no braces"), undefined);
});

test("verification passes only when valid and naming exactly the asked set", () => {
  const asked = ["color", "counting"] as const;
  const reply = (valid: unknown, used: unknown) => JSON.stringify({ valid, reason: "r", capabilities_used: used });
  assert.deepEqual(judgeVerification(reply(true, ["counting", "color"]), [...asked]), { ok: true });
  assert.deepEqual(judgeVerification(reply(true, ["Counting", "Color"]), [...asked]), { ok: true }, "case");
  assert.deepEqual(judgeVerification(reply(true, ["object recognition"]), ["object_recognition"]), { ok: true });
  const no = (text: string) => judgeVerification(text, [...asked]);
  assert.equal((no(reply(true, ["color", "counting", "shape"])) as { reason: string }).reason, "not-verified");
  assert.equal((no(reply(true, ["color"])) as { reason: string }).reason, "not-verified");
  assert.equal((no(reply(false, ["color", "counting"])) as { reason: string }).reason, "not-verified");
  assert.equal((no(reply("true", ["color", "counting"])) as { reason: string }).reason, "malformed-verification");
  assert.equal((no("Yes, it is valid.") as { reason: string }).reason, "malformed-verification");
  assert.equal((no(JSON.stringify({ valid: true })) as { reason: string }).reason, "malformed-verification");
});

test("the served teacher asks with the image at the paper's sampling, verifies text-only, maps replies to reasons", async () => {
  const image: CompactImage = { id: "img-1", source: "img-1", image: await testImage(1) };
  const good = JSON.stringify({ question: "How many red stars are there?", answer: "2", confidence: 88 });
  const vlm = new FakeVlm("fake:teacher", (r) =>
    r.images.length > 0
      ? r.messages[0].content.includes("no fewer: scene_understanding.")
        ? "no JSON here"
        : good
      : JSON.stringify({ valid: true, capabilities_used: ["color", "counting"] }),
  );
  const teacher = servedTeacher(vlm, { ...PAPER_TEACHER_SAMPLING, maxTokens: 512, verifyMaxTokens: 256, seed: 9 });
  assert.equal(teacher.name, "fake:teacher");
  const proposed = await teacher.propose(image, ["counting", "color"], new Rng(0), "img-1/attempt-0");
  assert.deepEqual(proposed, {
    ok: true,
    proposal: { question: "How many red stars are there?", answer: "2", confidence: 88 },
  });
  const [ask] = vlm.calls;
  assert.equal(ask.requests[0].id, "img-1/attempt-0");
  assert.equal(ask.requests[0].images.length, 1);
  assert.equal(ask.requests[0].messages[0].content, questionPrompt(["color", "counting"]));
  assert.deepEqual(
    {
      t: ask.params.temperature,
      p: ask.params.topP,
      n: ask.params.n,
      max: ask.params.maxTokens,
      seed: ask.params.seed,
    },
    { t: 0.1, p: 0.9, n: 1, max: 512, seed: 9 },
  );
  if (!proposed.ok) throw new Error("unreachable");
  assert.deepEqual(await teacher.verify(image, proposed.proposal, ["color", "counting"], "img-1/attempt-0"), {
    ok: true,
  });
  const verify = vlm.calls[1];
  assert.equal(verify.requests[0].id, "img-1/attempt-0/verify");
  assert.equal(verify.requests[0].images.length, 0);
  assert.equal(verify.params.maxTokens, 256);
  // Verified against a set the verifier does not name: not verified.
  assert.deepEqual(await teacher.verify(image, proposed.proposal, ["color"], "x"), {
    ok: false,
    reason: "not-verified",
  });
  // A reply that is not JSON: malformed-answer.
  assert.deepEqual(await teacher.propose(image, ["scene_understanding"], new Rng(0), "img-1/attempt-1"), {
    ok: false,
    reason: "malformed-answer",
  });
  await teacher.close();
  assert.equal(vlm.closed, true);
});
