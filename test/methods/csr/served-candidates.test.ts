// The served candidate generator against a scripted backend: what it asks (continued prefixes, the
// stop mark, log-probs, per-node seeds, n split at the server's cap) and how each scripted sample
// becomes a candidate (stop mark, answer's end, length, a server that cannot say, a full context).
import assert from "node:assert/strict";
import { test } from "node:test";
import { chunkSeed, requestKey, requestSeed } from "../../../src/backends/seeds.js";
import {
  type BackendCapabilities,
  BackendRequestError,
  type GeneratedSample,
  type GenerationParams,
  type GenerationRequest,
  type ScoreResult,
  type Settled,
  type SettlingVisionLanguageModel,
} from "../../../src/backends/types.js";
import type { SearchPrompt } from "../../../src/methods/csr/candidates.js";
import { ServedCandidateGenerator, sampleChunks } from "../../../src/methods/csr/served-candidates.js";

/** One request as the backend saw it, with the seed a backend samples it with (seeds.ts). */
interface Seen {
  request: GenerationRequest;
  params: GenerationParams;
  seed: number;
}

type Script = (request: GenerationRequest, sample: number) => Settled<GeneratedSample> | GeneratedSample;

class ScriptedBackend implements SettlingVisionLanguageModel {
  readonly name = "scripted";
  readonly seen: Seen[] = [];
  constructor(
    readonly script: Script,
    readonly maxSamplesPerRequest = 64,
  ) {}
  async capabilities(): Promise<BackendCapabilities> {
    return {
      maxSamplesPerRequest: this.maxSamplesPerRequest,
      generationLogprobs: true,
      scoring: false,
      maxImagesPerRequest: 1,
    };
  }
  async generateSettled(requests: GenerationRequest[], params: GenerationParams) {
    assert.ok(params.n <= this.maxSamplesPerRequest, `n ${params.n} over the cap`);
    return requests.map((request, i): Settled<GeneratedSample[]> => {
      this.seen.push({ request, params, seed: requestSeed(params.seed, requestKey(request, i)) });
      const samples = Array.from({ length: params.n }, (_, j) => this.script(request, j));
      const failed = samples.find((s) => "ok" in s && !s.ok);
      if (failed !== undefined) return failed as Settled<GeneratedSample[]>;
      return { ok: true, value: samples as GeneratedSample[], attempts: 1 };
    });
  }
  async generate(): Promise<GeneratedSample[][]> {
    throw new Error("the generator settles");
  }
  async scoreSettled(): Promise<Settled<ScoreResult>[]> {
    throw new Error("not used");
  }
  async score(): Promise<ScoreResult[]> {
    throw new Error("not used");
  }
  async close(): Promise<void> {}
}

const sample = (text: string, rest: Partial<GeneratedSample> = {}): GeneratedSample => ({
  text,
  tokens: ["1", "2"],
  logprobs: [-1, -0.5],
  finishReason: "stop",
  stopString: ".",
  ...rest,
});

const prompt: SearchPrompt = {
  id: "p",
  image: { bytes: new Uint8Array([1, 2, 3]), mimeType: "image/png" },
  messages: [{ role: "user", content: "<image>\nDescribe this image in detail." }],
};

const options = (n: number, seed = 3) => ({
  proposal: { kind: "sampling" as const, n, temperature: 0.7, topP: 0.9 },
  maxSentenceTokens: 12,
  stopMark: ".",
  seed,
});

test("samples become candidates: stop mark, answer's end, length, a server that cannot say; prefixes continue", async () => {
  const root = [
    sample(" A red circle"), // stopped on '.': the mark is put back
    sample("It ends", { stopString: null, logprobs: [-2, -1, -3] }), // the answer's end
    sample("A long one that", { finishReason: "length", stopString: null }),
    sample("No stop_reason", { stopString: undefined }), // text: taken as a sentence
    sample("", { stopString: undefined }), // no text: taken as the end
    sample("Cut off by", { finishReason: "length", stopString: undefined }),
  ];
  const backend = new ScriptedBackend((r, j) =>
    r.assistantPrefix === undefined ? root[j] : sample(j % 2 === 0 ? " It is big" : "it is small"),
  );
  const generator = new ServedCandidateGenerator(backend, options(6));
  const [cands] = await generator.expand([{ node: "p", prompt, prefix: "" }]);
  assert.deepEqual(
    cands.map((c) => [c.node, c.sentence, c.response, c.finish, c.final]),
    [
      ["p.0", "A red circle.", "A red circle.", "sentence", false],
      ["p.1", "It ends", "It ends", "end", true],
      ["p.2", "A long one that", "A long one that", "length", false],
      ["p.3", "No stop_reason.", "No stop_reason.", "sentence", false],
      ["p.4", "", "", "end", true],
      ["p.5", "Cut off by", "Cut off by", "length", false],
    ],
  );
  assert.deepEqual(cands[1].logprobs, [-2, -1, -3], "the sample's log-probs");
  assert.equal(cands[1].lmScore, -2, "their mean");
  // What the root asked: a fresh answer with the image, one sentence's worth, stopped at the mark.
  const [first] = backend.seen;
  assert.equal(first.request.assistantPrefix, undefined);
  assert.deepEqual(first.request.images, [prompt.image]);
  assert.deepEqual(first.request.messages, prompt.messages);
  assert.deepEqual(first.params, {
    n: 6,
    temperature: 0.7,
    topP: 0.9,
    topK: 0,
    maxTokens: 12,
    stop: ["."],
    seed: 3,
    logprobs: true,
  });
  // The open nodes are the non-final candidates; a child continues its prefix.
  assert.equal(generator.held, 4);
  generator.release(["p.2", "p.5"]);
  assert.equal(generator.held, 2);
  const [next] = await generator.expand([{ node: "p.0", prompt, prefix: cands[0].response }]);
  assert.equal(backend.seen.at(-1)?.request.assistantPrefix, "A red circle.");
  assert.deepEqual(
    next.map((c) => [c.node, c.sentence, c.response]),
    // vLLM's continuation brings its space, serve's does not: one space either way.
    Array.from({ length: 6 }, (_, j) =>
      j % 2 === 0
        ? [`p.0.${j}`, "It is big.", "A red circle. It is big."]
        : [`p.0.${j}`, "it is small.", "A red circle. it is small."],
    ),
  );
  assert.equal(generator.held, 1 + 6, "p.3 and p.0's children (p.0 itself was expanded)");
  await assert.rejects(generator.expand([{ node: "p.1", prompt, prefix: "It ends" }]), /unknown node "p\.1"/);
  await assert.rejects(generator.expand([{ node: "p.2", prompt, prefix: "A long one that" }]), /unknown node "p\.2"/);
  await generator.close();
  assert.equal(generator.held, 0);
});

test("n is split at the server's cap: chunk calls seeded chunkSeed(seed, c), samples in chunk order", async () => {
  assert.deepEqual(sampleChunks(5, 2), [2, 2, 1]);
  assert.deepEqual(sampleChunks(5, 1), [1, 1, 1, 1, 1]);
  assert.deepEqual(sampleChunks(5, 1024), [5]);
  // Each sample's text names the call's seed and its index in the call.
  const backend = new ScriptedBackend((_, j) => sample(`${j}`), 2);
  const generator = new ServedCandidateGenerator(backend, options(5, 11));
  const other: SearchPrompt = { ...prompt, id: "q" };
  const [p, q] = await generator.expand([
    { node: "p", prompt, prefix: "" },
    { node: "q", prompt: other, prefix: "" },
  ]);
  assert.deepEqual(
    backend.seen.map((s) => [s.request.id, s.params.n, s.params.seed]),
    [0, 0, 1, 1, 2, 2].map((c, k) => [`csr-node:${k % 2 === 0 ? "p" : "q"}`, c < 2 ? 2 : 1, chunkSeed(11, c)]),
  );
  assert.deepEqual(
    p.map((c) => [c.node, c.sentence]),
    ["0", "1", "0", "1", "0"].map((t, j) => [`p.${j}`, `${t}.`]),
  );
  assert.equal(q.length, 5);
});

test("seeds: each node its own, the same again for the same node and seed, another for another seed", async () => {
  const seedsOf = async (seed: number, nodes: string[]) => {
    const backend = new ScriptedBackend(() => sample(" x y z"));
    const generator = new ServedCandidateGenerator(backend, options(2, seed));
    await generator.expand(nodes.map((node) => ({ node, prompt: { ...prompt, id: node }, prefix: "" })));
    return backend.seen.map((s) => s.seed);
  };
  const a = await seedsOf(3, ["p", "q", "r"]);
  assert.equal(new Set(a).size, 3, "one seed per node");
  // The embedded sampling proposal seeds node p with the same number.
  assert.equal(a[0], requestSeed(3, "csr-node:p"));
  assert.deepEqual(await seedsOf(3, ["r", "p"]), [a[2], a[0]], "whatever else is in the call");
  const b = await seedsOf(4, ["p", "q", "r"]);
  assert.ok(
    b.every((s, i) => s !== a[i]),
    "another run seed, other seeds",
  );
});

test("a node whose context is full finishes as it stands; other failures throw naming the node", async () => {
  const refusal =
    (reason: string) =>
    (r: GenerationRequest): Settled<GeneratedSample> | GeneratedSample =>
      r.id === "csr-node:p" ? { ok: false, reason, attempts: 1 } : sample(" fine");
  const vllm =
    "HTTP 400: 400 This model's maximum context length is 512 tokens. However, you requested 530 tokens (460 in the messages, 70 in the completion).";
  const generator = new ServedCandidateGenerator(new ScriptedBackend(refusal(vllm)), options(2));
  const [full, fine] = await generator.expand([
    { node: "p", prompt, prefix: "" },
    { node: "q", prompt: { ...prompt, id: "q" }, prefix: "" },
  ]);
  assert.deepEqual(full, [
    { node: "p.0", sentence: "", response: "", logprobs: [], lmScore: 0, finish: "context", final: true },
  ]);
  assert.deepEqual(
    fine.map((c) => c.sentence),
    ["fine.", "fine."],
  );
  const broken = new ServedCandidateGenerator(new ScriptedBackend(refusal("HTTP 500: boom (gave up)")), options(2));
  await assert.rejects(
    broken.expand([{ node: "p", prompt, prefix: "" }]),
    (e: Error) => e instanceof BackendRequestError && /csr-node:p failed: HTTP 500: boom/.test(e.message),
  );
});

test("a sample without log-probs and a beam-search proposal are refused", async () => {
  const bare = new ServedCandidateGenerator(new ScriptedBackend(() => sample("a b c", { logprobs: null })), options(1));
  await assert.rejects(bare.expand([{ node: "p", prompt, prefix: "" }]), /sample of node p without log-probs/);
  assert.throws(
    () =>
      new ServedCandidateGenerator(new ScriptedBackend(() => sample("x")), {
        ...options(1),
        // @ts-expect-error: the served generator's type takes sampling only; checked at run time too
        proposal: { kind: "diverse-beam", beams: 2, groups: 2, returned: 2, diversityPenalty: 3 },
      }),
    /proposal\.kind diverse-beam needs the embedded model/,
  );
});
