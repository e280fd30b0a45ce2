// The HTTP backend against `selfsynth serve` (on loopback) equals the embedded backend over the
// same checkpoint: same samples and log-probs for the same seed, same teacher-forced scores.
// Also: the per-endpoint concurrency limit (counted at a proxy), and balancing over two endpoints.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { EmbeddedBackend } from "../../src/backends/embedded.js";
import { HttpBackend } from "../../src/backends/http.js";
import { createBackend } from "../../src/backends/index.js";
import type { GeneratedSample, GenerationParams, GenerationRequest, ScoreRequest } from "../../src/backends/types.js";
import { setNumThreads } from "../../src/engine/index.js";
import { type RunningServer, startServer } from "../../src/serve/index.js";
import { type FaultProxy, startFaultProxy } from "./fault-proxy.js";
import { pngImage, saveTinyVLM } from "./tiny-model.js";

setNumThreads(1);

const saved = saveTinyVLM();
let server: RunningServer;
let embedded: EmbeddedBackend;
let http: HttpBackend;
let requests: GenerationRequest[];
const proxies: FaultProxy[] = [];

before(async () => {
  server = await startServer({ modelDir: saved.dir, modelName: "tiny", host: "127.0.0.1", port: 0 });
  embedded = EmbeddedBackend.load(saved.dir);
  http = new HttpBackend({ baseUrls: [`${server.url}/v1`], model: "tiny", concurrency: 4, timeoutMs: 20_000 });
  requests = [
    { id: "img-1", images: [await pngImage(1)], messages: [{ role: "user", content: "<image> Describe the image." }] },
    { id: "text", images: [], messages: [{ role: "user", content: "What is on the left? Is there a yellow heart?" }] },
    {
      id: "img-2",
      images: [await pngImage(2)],
      messages: [{ role: "user", content: "Is there a red circle? <image>" }],
    },
    {
      id: "prefix",
      images: [await pngImage(3)],
      messages: [{ role: "user", content: "<image> Describe the image." }],
      assistantPrefix: "A red",
    },
    {
      id: "multi-turn",
      images: [await pngImage(4)],
      messages: [
        { role: "user", content: "<image> What is on the left?" },
        { role: "assistant", content: "A blue square." },
        { role: "user", content: "Is there a star?" },
      ],
    },
  ];
});

after(async () => {
  await http?.close();
  await embedded?.close();
  for (const p of proxies) await p.close();
  await server?.close();
  saved.remove();
});

function assertSameSamples(a: GeneratedSample[][], b: GeneratedSample[][], tol: number): void {
  assert.equal(a.length, b.length);
  a.forEach((row, i) => {
    assert.equal(row.length, b[i].length, `request ${i}: sample count`);
    row.forEach((s, j) => {
      const t = b[i][j];
      const at = `request ${i} sample ${j}`;
      assert.equal(s.text, t.text, at);
      assert.deepEqual(s.tokens, t.tokens, at);
      assert.equal(s.finishReason, t.finishReason, at);
      assert.equal(s.stopString, t.stopString, `${at}: serve's stop_reason is the embedded sample's stop string`);
      assert.equal(s.logprobs?.length, t.logprobs?.length, at);
      s.logprobs?.forEach((l, k) => {
        assert.ok(Math.abs(l - (t.logprobs as number[])[k]) <= tol, `${at} token ${k}: ${l} vs ${t.logprobs?.[k]}`);
      });
    });
  });
}

const params = (p: Partial<GenerationParams>): GenerationParams => ({
  n: 1,
  temperature: 0,
  topP: 1,
  topK: 0,
  maxTokens: 12,
  stop: [],
  seed: 0,
  logprobs: true,
  ...p,
});

test("the probe sees what serve can do", async () => {
  const caps = await http.capabilities();
  assert.ok(caps.maxSamplesPerRequest > 1);
  assert.equal(caps.generationLogprobs, true);
  assert.equal(caps.scoring, true);
  assert.equal(caps.maxImagesPerRequest, 1);
});

test("HTTP + serve = embedded: greedy, and seeded temperature 1 with n = 3, top-k and top-p", async () => {
  for (const p of [
    params({ temperature: 0 }),
    params({ temperature: 1, n: 3, seed: 7, topK: 8, topP: 0.9 }),
    params({ temperature: 1, n: 2, seed: 8, stop: ["."] }),
  ]) {
    const viaHttp = await http.generate(requests, p);
    const direct = await embedded.generate(requests, p);
    assertSameSamples(viaHttp, direct, 1e-4);
    assert.ok(
      direct.flat().some((s) => s.tokens.length > 2),
      "samples are not trivial",
    );
    if (p.n > 1)
      assert.ok(
        direct.some((row) => new Set(row.map((s) => s.tokens.join())).size > 1),
        "n samples differ",
      );
  }
  // The stop string a sample ended on (serve's stop_reason) is the embedded sample's. The tiny model
  // rarely writes '.'; a space ends every answer of two words or more.
  const spaced = params({ temperature: 1, n: 2, seed: 8, stop: ["zzz", " "] });
  const stopped = await http.generate(requests, spaced);
  assertSameSamples(stopped, await embedded.generate(requests, spaced), 1e-4);
  assert.ok(
    stopped.flat().some((s) => s.stopString === " "),
    "some sample stops on ' '",
  );
  // Another seed gives other samples (the seed reaches the server).
  const a = await http.generate(requests, params({ temperature: 1, n: 3, seed: 7 }));
  const b = await http.generate(requests, params({ temperature: 1, n: 3, seed: 9 }));
  assert.notDeepEqual(
    a.map((r) => r.map((s) => s.tokens)),
    b.map((r) => r.map((s) => s.tokens)),
  );
});

test("HTTP + serve = embedded: teacher-forced scores of given answers (prompt_logprobs + /tokenize)", async () => {
  const samples = await embedded.generate(requests.slice(0, 3), params({ temperature: 1, n: 2, seed: 3 }));
  const items: ScoreRequest[] = samples.flatMap((row, i) =>
    row.map((s, j) => ({
      id: `${requests[i].id}/${j}`,
      images: requests[i].images,
      messages: [...requests[i].messages, { role: "assistant" as const, content: s.text }],
    })),
  );
  items.push({
    id: "given",
    images: requests[4].images,
    messages: [...requests[4].messages, { role: "assistant", content: "Yes, two green stars at the top." }],
  });
  const viaHttp = await http.score(items);
  const direct = await embedded.score(items);
  viaHttp.forEach((r, k) => {
    assert.deepEqual(r.tokens, direct[k].tokens, `item ${k}`);
    assert.deepEqual(r.pieces, direct[k].pieces, `item ${k}: token texts from decoded_token`);
    r.logprobs.forEach((l, j) => {
      assert.ok(Math.abs(l - direct[k].logprobs[j]) <= 1e-4, `item ${k} token ${j}`);
    });
    assert.ok(Math.abs(r.total - direct[k].total) <= 1e-3);
  });
  // The answer's span ends with the end-of-turn token.
  assert.equal(direct.at(-1)?.tokens.at(-1), "7");
});

test("settled variants report a bad item and keep the others", async () => {
  const bad: GenerationRequest = {
    id: "bad",
    images: [],
    messages: [{ role: "user", content: "<image> no image given" }],
  };
  const settled = await http.generateSettled([requests[1], bad], params({}));
  assert.equal(settled[0].ok, true);
  assert.equal(settled[1].ok, false);
  assert.match((settled[1] as { reason: string }).reason, /bad.*more <image> markers than images/);
  const embeddedSettled = await embedded.generateSettled([requests[1], bad], params({}));
  assert.equal(embeddedSettled[0].ok, true);
  assert.equal(embeddedSettled[1].ok, false);
});

test("the concurrency limit per endpoint holds (counted at a proxy), and two endpoints share the work", async () => {
  const a = await startFaultProxy({ target: server.url });
  const b = await startFaultProxy({ target: server.url });
  proxies.push(a, b);
  const limited = new HttpBackend({ baseUrls: [`${a.url}/v1`], model: "tiny", concurrency: 3 });
  const batch = Array.from({ length: 24 }, (_, i) => ({ ...requests[i % requests.length], id: `c${i}` }));
  const p = params({ temperature: 1, n: 2, seed: 1, maxTokens: 6 });
  await limited.generate(batch, p);
  assert.ok(a.stats.maxInFlight <= 3, `max in flight ${a.stats.maxInFlight}`);
  assert.ok(a.stats.maxInFlight >= 2, `the limit is used: ${a.stats.maxInFlight}`);

  const two = new HttpBackend({ baseUrls: [`${a.url}/v1`, `${b.url}/v1`], model: "tiny", concurrency: 2 });
  const before = [a.stats.requests, b.stats.requests];
  const out = await two.generate(batch, p);
  const served = [a.stats.requests - before[0], b.stats.requests - before[1]];
  assert.ok(
    served.every((n) => n >= 8),
    `both endpoints get traffic: ${served}`,
  );
  assert.ok(a.stats.maxInFlight <= 3 && b.stats.maxInFlight <= 2);
  // Same samples whichever endpoint answered.
  assertSameSamples(out, await embedded.generate(batch, p), 1e-4);
});

test("createBackend: embedded from a checkpoint, openai from base URLs", async () => {
  const local = createBackend({ kind: "embedded", modelDir: saved.dir });
  assert.ok(local instanceof EmbeddedBackend);
  assert.equal(local.name, `embedded:${saved.dir}`);
  const remote = createBackend({ kind: "openai", baseUrls: [`${server.url}/v1`], model: "tiny", concurrency: 2 });
  assert.ok(remote instanceof HttpBackend);
  const p = params({ temperature: 1, n: 2, seed: 4 });
  assertSameSamples(await remote.generate(requests, p), await local.generate(requests, p), 1e-4);
  await local.close();
  await remote.close();
  assert.throws(() => createBackend({ kind: "openai", baseUrls: ["ftp://x"], model: "m" }), /not http/);
  assert.throws(() => createBackend({ kind: "other" } as never), /expected "embedded" or "openai"/);
});
