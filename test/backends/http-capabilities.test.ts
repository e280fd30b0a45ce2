// The capability probe against a fake llama.cpp-style server: one choice whatever n asks for,
// per-token log-probs, images, but no prompt_logprobs (so no teacher-forced scoring); and the
// start-up check against it, a server that rejects the key, and a port nobody listens on.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { HttpBackend } from "../../src/backends/http.js";
import { listServedModels, openBackend } from "../../src/backends/index.js";
import { BackendCapabilityError, type GenerationParams } from "../../src/backends/types.js";

const bodies: Record<string, unknown>[] = [];
const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (req.method === "GET" && req.url === "/v1/models") {
    return json(200, { object: "list", data: [{ id: "tiny-llama", object: "model", owned_by: "llamacpp" }] });
  }
  if (req.method === "POST" && req.url === "/v1/chat/completions") {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
    bodies.push(body);
    const logprobs = body.logprobs
      ? {
          content: [
            { token: " hello", logprob: -0.5, bytes: null, top_logprobs: [] },
            { token: " world", logprob: -1.5, bytes: null, top_logprobs: [] },
          ],
        }
      : null;
    // llama.cpp ignores n and prompt_logprobs: one choice, no prompt_logprobs.
    return json(200, {
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 0,
      model: "tiny-llama",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: ` hello world ${body.seed}` },
          finish_reason: "stop",
          logprobs,
        },
      ],
    });
  }
  json(404, { error: { message: "File Not Found", type: "not_found_error" } });
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
after(() => server.close());

const backend = new HttpBackend({
  baseUrls: [baseUrl],
  model: "tiny-llama",
  retry: { maxAttempts: 2, baseDelayMs: 1 },
});

test("the probe finds n = 1, log-probs, images, and no scoring", async () => {
  assert.deepEqual(await backend.capabilities(), {
    maxSamplesPerRequest: 1,
    generationLogprobs: true,
    scoring: false,
    maxImagesPerRequest: 1,
  });
});

test("score() refuses with BackendCapabilityError naming the endpoint and prompt_logprobs", async () => {
  const before = bodies.length;
  await assert.rejects(
    backend.score([
      {
        images: [],
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello" },
        ],
      },
    ]),
    (error) => {
      assert.ok(error instanceof BackendCapabilityError, String(error));
      assert.ok(error.message.includes(baseUrl), error.message);
      assert.match(error.message, /prompt_logprobs/);
      assert.match(error.message, /llama\.cpp/);
      return true;
    },
  );
  assert.equal(bodies.length, before, "nothing is sent for a refused step");
});

test("n = 3 on a server that answers one choice: three requests with different seeds", async () => {
  const params: GenerationParams = {
    n: 3,
    temperature: 1,
    topP: 1,
    topK: 0,
    maxTokens: 4,
    stop: [],
    seed: 5,
    logprobs: true,
  };
  const before = bodies.length;
  const [samples] = await backend.generate(
    [{ id: "q1", images: [], messages: [{ role: "user", content: "hi" }] }],
    params,
  );
  const sent = bodies.slice(before);
  assert.equal(sent.length, 3);
  assert.ok(sent.every((b) => b.n === 1));
  assert.equal(new Set(sent.map((b) => b.seed)).size, 3);
  assert.equal(samples.length, 3);
  assert.deepEqual(samples[0].tokens, [" hello", " world"]);
  assert.deepEqual(samples[0].logprobs, [-0.5, -1.5]);
  assert.equal(new Set(samples.map((s) => s.text)).size, 3);
});

test("a capability configured off is refused with the endpoint named", async () => {
  const textOnly = new HttpBackend({
    baseUrls: [baseUrl],
    model: "tiny-llama",
    capabilities: { maxSamplesPerRequest: 1, generationLogprobs: false, scoring: false, maxImagesPerRequest: 0 },
  });
  const params: GenerationParams = {
    n: 1,
    temperature: 0,
    topP: 1,
    topK: 0,
    maxTokens: 4,
    stop: [],
    seed: 0,
    logprobs: true,
  };
  await assert.rejects(
    textOnly.generate([{ images: [], messages: [{ role: "user", content: "hi" }] }], params),
    (e) => e instanceof BackendCapabilityError && e.message.includes(baseUrl) && /log-probs/.test(e.message),
  );
});

test("a model the server does not serve is a clear error", async () => {
  const wrong = new HttpBackend({ baseUrls: [baseUrl], model: "other", retry: { maxAttempts: 1 } });
  await assert.rejects(wrong.capabilities(), /does not serve model "other" \(it serves tiny-llama\)/);
});

test("requireServes checks at start: images pass, scoring is refused naming the endpoint and why", async () => {
  const before = bodies.length;
  await backend.requireServes({ images: 1 });
  await assert.rejects(backend.requireServes({ images: 1, scoring: true }), (error) => {
    assert.ok(error instanceof BackendCapabilityError, String(error));
    assert.match(
      error.message,
      new RegExp(
        `teacher-forced scoring \\(prompt_logprobs\\) is not served by endpoint ${baseUrl} \\(answers without prompt_logprobs`,
      ),
    );
    return true;
  });
  assert.equal(bodies.length, before, "the probe ran once, before; nothing more is sent");
});

test("a server that rejects the key fails at start, naming the endpoint and the 401", async () => {
  const locked = createServer((_req, res) => {
    res.writeHead(401, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: "Invalid API key", type: "authentication_error" } }));
  });
  await new Promise<void>((resolve) => locked.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(locked.address() as AddressInfo).port}/v1`;
  try {
    await assert.rejects(
      openBackend(
        { kind: "openai", baseUrls: [url], model: "m", retry: { maxAttempts: 2, baseDelayMs: 1 } },
        { images: 1 },
      ),
      new RegExp(`endpoint ${url} refused GET /models as unauthorized \\(HTTP 401: .*\\): the server wants an API key`),
    );
  } finally {
    locked.close();
  }
});

test("a refused connection fails at start, naming the endpoint", async () => {
  // A port that was free a moment ago: nothing listens there.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/v1`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  await assert.rejects(
    openBackend(
      { kind: "openai", baseUrls: [url], model: "m", retry: { maxAttempts: 2, baseDelayMs: 1 } },
      { images: 1 },
    ),
    new RegExp(`endpoint ${url}: probing GET /models failed: .*ECONNREFUSED`),
  );
});

test("listServedModels: the names GET /models lists; [] without the route; a refused connection names the URL", async () => {
  assert.deepEqual(await listServedModels({ baseUrls: [baseUrl], retry: { maxAttempts: 2, baseDelayMs: 1 } }), [
    "tiny-llama",
  ]);
  // This fake answers 404 under another prefix: a server without the route lists nothing.
  const other = baseUrl.replace(/\/v1$/, "/other/v1");
  assert.deepEqual(await listServedModels({ baseUrls: [other], retry: { maxAttempts: 2, baseDelayMs: 1 } }), []);
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/v1`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  await assert.rejects(
    listServedModels({ baseUrls: [url], retry: { maxAttempts: 2, baseDelayMs: 1 } }),
    new RegExp(`endpoint ${url}: GET /models failed: .*ECONNREFUSED`),
  );
});
