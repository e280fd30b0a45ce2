import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BadRequestError,
  generationBody,
  parseChoices,
  parsePromptDecodedTokens,
  parsePromptLogprobs,
  scoreFromSpans,
  toChatMessages,
} from "../../src/backends/http-mapping.js";
import { MalformedResponseError } from "../../src/backends/retry.js";
import type { GenerationParams } from "../../src/backends/types.js";
import type { ChatImage } from "../../src/images/chat-image.js";

const png = (b: number): ChatImage => ({ bytes: new Uint8Array([0x89, 0x50, b]), mimeType: "image/png" });
const uri = (b: number) => `data:image/png;base64,${Buffer.from([0x89, 0x50, b]).toString("base64")}`;

test("images become image_url parts at their markers, in order; text kept verbatim", () => {
  const messages = toChatMessages(
    [
      { role: "user", content: "<image> Describe it." },
      { role: "assistant", content: "A circle." },
      { role: "user", content: "And here: <image>" },
    ],
    [png(1), png(2)],
    "requests[0]",
  );
  assert.deepEqual(messages, [
    {
      role: "user",
      content: [
        { type: "image_url", image_url: { url: uri(1) } },
        { type: "text", text: " Describe it." },
      ],
    },
    { role: "assistant", content: "A circle." },
    {
      role: "user",
      content: [
        { type: "text", text: "And here: " },
        { type: "image_url", image_url: { url: uri(2) } },
      ],
    },
  ]);
  // Without images (for /tokenize): plain strings, markers dropped.
  const textOnly = toChatMessages([{ role: "user", content: "<image> Describe it." }], [png(1)], "r", {
    withImages: false,
  });
  assert.deepEqual(textOnly, [{ role: "user", content: " Describe it." }]);
  assert.deepEqual(toChatMessages([{ role: "user", content: "hi" }], [], "r"), [{ role: "user", content: "hi" }]);
});

test("markers and images must match", () => {
  assert.throws(
    () => toChatMessages([{ role: "user", content: "<image> <image>" }], [png(1)], "requests[3]"),
    (e) => {
      assert.ok(e instanceof BadRequestError);
      assert.match(e.message, /requests\[3\]: the messages hold more <image> markers than images \(1\)/);
      return true;
    },
  );
  assert.throws(
    () => toChatMessages([{ role: "user", content: "hi" }], [png(1)], "r"),
    /1 images but 0 <image> markers/,
  );
});

const params: GenerationParams = {
  n: 2,
  temperature: 1,
  topP: 0.9,
  topK: 0,
  maxTokens: 8,
  stop: [],
  seed: 1,
  logprobs: true,
};

test("generation body: vLLM extensions only when used; a prefix is continued", () => {
  const body = generationBody("m", [{ role: "user", content: "hi" }], undefined, params, 2, 99);
  assert.deepEqual(body, {
    model: "m",
    messages: [{ role: "user", content: "hi" }],
    n: 2,
    temperature: 1,
    top_p: 0.9,
    max_tokens: 8,
    seed: 99,
    logprobs: true,
    return_tokens_as_token_ids: true,
  });
  const prefixed = generationBody(
    "m",
    [{ role: "user", content: "hi" }],
    "The",
    { ...params, topK: 5, stop: ["."] },
    1,
    3,
  );
  assert.equal(prefixed.top_k, 5);
  assert.deepEqual(prefixed.stop, ["."]);
  assert.deepEqual((prefixed.messages as unknown[]).at(-1), { role: "assistant", content: "The" });
  assert.equal(prefixed.add_generation_prompt, false);
  assert.equal(prefixed.continue_final_message, true);
});

test("choices: in index order, token ids from token_id:N, finish reasons; malformed answers throw", () => {
  const choice = (index: number, text: string, finish: string) => ({
    index,
    message: { role: "assistant", content: text },
    finish_reason: finish,
    logprobs: { content: [{ token: "token_id:12", logprob: -0.5, bytes: null, top_logprobs: [] }] },
  });
  const samples = parseChoices({ choices: [choice(1, "b", "length"), choice(0, "a", "stop")] }, 2, true, "r");
  assert.deepEqual(samples, [
    { text: "a", tokens: ["12"], logprobs: [-0.5], finishReason: "stop" },
    { text: "b", tokens: ["12"], logprobs: [-0.5], finishReason: "length" },
  ]);
  assert.deepEqual(parseChoices({ choices: [choice(0, "a", "stop")] }, 1, false, "r")[0].logprobs, null);
  // vLLM's stop_reason: the stop string matched; null (or a stop token id) for the answer's end;
  // left out by servers that do not say, and then absent from the sample.
  const stopped = (stop_reason: unknown, finish = "stop") => ({ ...choice(0, "a", finish), stop_reason });
  const stopStrings = [stopped("."), stopped(null), stopped(2), stopped(null, "length")].map(
    (c) => parseChoices({ choices: [c] }, 1, true, "r")[0].stopString,
  );
  assert.deepEqual(stopStrings, [".", null, null, null]);
  assert.equal("stopString" in samples[0], false);
  assert.throws(() => parseChoices({ choices: [choice(0, "a", "stop")] }, 2, true, "r"), MalformedResponseError);
  assert.throws(() => parseChoices({ nope: 1 }, 1, true, "r"), MalformedResponseError);
  assert.throws(
    () => parseChoices({ choices: [{ index: 0, message: { content: "a" }, finish_reason: "stop" }] }, 1, true, "r"),
    /logprobs.content is missing/,
  );
});

test("scoring span: the answer's tokens, aligned from the end of prompt_logprobs", () => {
  // Prompt ids [2, 5, 9, 6], conversation [2, 5, 9, 6, 11, 12, 7]; the scored prompt holds two
  // more positions up front (image placeholders the text-only /tokenize did not see).
  type Entry = Record<string, { logprob: number; rank: number; decoded_token?: string }> | null;
  const answer: { prompt_logprobs: Entry[] } = {
    prompt_logprobs: [
      null,
      ...[4, 4, 5, 9, 6].map((id) => ({ [id]: { logprob: -9, rank: 1 } })),
      { 11: { logprob: -1, rank: 1, decoded_token: "a" } },
      { 12: { logprob: -2, rank: 3 } },
      { 7: { logprob: -0.25, rank: 1 } },
    ],
  };
  const list = parsePromptLogprobs(answer, "r");
  assert.ok(list !== null);
  const scored = scoreFromSpans([2, 5, 9, 6], [2, 5, 9, 6, 11, 12, 7], list, "r");
  assert.deepEqual(scored, { tokens: ["11", "12", "7"], logprobs: [-1, -2, -0.25], total: -3.25 });
  // Token texts only when every answer token has its decoded_token.
  assert.equal(
    scoreFromSpans([2, 5, 9, 6], [2, 5, 9, 6, 11, 12, 7], list, "r", parsePromptDecodedTokens(answer)).pieces,
    undefined,
  );
  answer.prompt_logprobs[7] = { 12: { logprob: -2, rank: 3, decoded_token: " star" } };
  answer.prompt_logprobs[8] = { 7: { logprob: -0.25, rank: 1, decoded_token: "<eot>" } };
  assert.deepEqual(
    scoreFromSpans([2, 5, 9, 6], [2, 5, 9, 6, 11, 12, 7], list, "r", parsePromptDecodedTokens(answer)).pieces,
    ["a", " star", "<eot>"],
  );
  assert.equal(parsePromptLogprobs({ choices: [{}] }, "r"), null, "no prompt_logprobs: null");
  assert.throws(() => scoreFromSpans([2, 5], [2, 6, 7], list, "r"), /does not extend its prompt/);
  assert.throws(
    () => scoreFromSpans([2, 5, 9, 6], [2, 5, 9, 6, 11, 13, 7], list, "r"),
    /no entry for the answer's token 13/,
  );
});
