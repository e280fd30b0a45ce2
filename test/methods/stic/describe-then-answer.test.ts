import assert from "node:assert/strict";
import { test } from "node:test";
import type { GenerationParams, GenerationRequest } from "../../../src/backends/types.js";
import { DescribeThenAnswer } from "../../../src/methods/stic/describe-then-answer.js";
import { imageTurn, PAPER_PROMPTS, SCENEWORLD_PROMPTS } from "../../../src/methods/stic/prompts.js";
import { FakeVlm, testImage } from "./fake-vlm.js";

const params: GenerationParams = {
  n: 1,
  temperature: 0.7,
  topP: 0.9,
  topK: 0,
  maxTokens: 32,
  stop: ["\n"],
  seed: 4,
  logprobs: true,
};

test("generate: one greedy describe call, then the question with the description prefixed", async () => {
  const inner = new FakeVlm("fake:inner");
  const vlm = new DescribeThenAnswer(inner, { maxTokens: 200 });
  assert.equal(vlm.name, "describe-first:fake:inner");
  const image = await testImage(1);
  const requests: GenerationRequest[] = [
    { id: "a", images: [image], messages: [{ role: "user", content: "<image>\nIs there a star?" }] },
    { id: "b", images: [await testImage(2)], messages: [{ role: "user", content: "How many?\n<image>" }] },
  ];
  const out = await vlm.generate(requests, params);
  assert.equal(inner.calls.length, 2);
  const [describe, answer] = inner.calls;
  assert.deepEqual(
    describe.requests.map((r) => [r.id, r.messages[0].content]),
    [
      ["a/describe", imageTurn(PAPER_PROMPTS.describe)],
      ["b/describe", imageTurn(PAPER_PROMPTS.describe)],
    ],
  );
  assert.equal(describe.params.temperature, 0);
  assert.equal(describe.params.maxTokens, 200);
  const d0 = FakeVlm.answer(describe.requests[0], describe.params, 0);
  const d1 = FakeVlm.answer(describe.requests[1], describe.params, 1);
  assert.deepEqual(answer.requests[0], {
    id: "a",
    images: [image],
    messages: [{ role: "user", content: `<image>\nImage description:\n${d0}\n\nIs there a star?` }],
  });
  assert.equal(answer.requests[1].messages[0].content, `<image>\nImage description:\n${d1}\n\nHow many?`);
  assert.equal(answer.params, params);
  assert.equal(out.length, 2);
  // The input requests are left as they were.
  assert.equal(requests[0].messages[0].content, "<image>\nIs there a star?");
});

test("multi-turn: the description goes into the turn with the image; text-only requests pass through", async () => {
  const inner = new FakeVlm();
  const vlm = new DescribeThenAnswer(inner, { prompt: SCENEWORLD_PROMPTS.describe });
  const turns: GenerationRequest["messages"] = [
    { role: "user", content: "<image>\nWhat is this?" },
    { role: "assistant", content: "A circle." },
    { role: "user", content: "What colour?" },
  ];
  await vlm.generate(
    [
      { id: "m", images: [await testImage(3)], messages: turns },
      { id: "t", images: [], messages: [{ role: "user", content: "Hello?" }] },
    ],
    params,
  );
  const [describe, answer] = inner.calls;
  assert.deepEqual(
    describe.requests.map((r) => r.messages[0].content),
    ["<image>\nDescribe this image in detail."],
  );
  assert.match(answer.requests[0].messages[0].content, /^<image>\nImage description:\nanswer \w+\n\nWhat is this\?$/);
  assert.deepEqual(answer.requests[0].messages.slice(1), turns.slice(1));
  assert.deepEqual(answer.requests[1].messages, [{ role: "user", content: "Hello?" }]);
});

test("descriptions are reused for the same image; score() prefixes the same way", async () => {
  const inner = new FakeVlm();
  const vlm = new DescribeThenAnswer(inner);
  const image = await testImage(5);
  const ask = (q: string): GenerationRequest => ({
    images: [image],
    messages: [{ role: "user", content: `<image>\n${q}` }],
  });
  await vlm.generate([ask("Is there a cat?"), ask("Is there a dog?")], params);
  assert.equal(inner.calls[0].requests.length, 1, "one description per distinct image");
  const description = inner.calls[1].requests[0].messages[0].content.split("\n")[2];
  await vlm.generate([ask("Is there a bird?")], params);
  assert.equal(inner.calls.length, 3, "a cached description needs no describe call");
  await vlm.score([
    {
      id: "s",
      images: [image],
      messages: [
        { role: "user", content: "<image>\nIs there a cat?" },
        { role: "assistant", content: "No." },
      ],
    },
  ]);
  assert.equal(inner.calls.length, 3);
  assert.deepEqual(inner.scored[0][0].messages, [
    { role: "user", content: `<image>\nImage description:\n${description}\n\nIs there a cat?` },
    { role: "assistant", content: "No." },
  ]);
  assert.deepEqual(await vlm.capabilities(), await inner.capabilities());
  await vlm.close();
  assert.equal(inner.closed, true);
});
