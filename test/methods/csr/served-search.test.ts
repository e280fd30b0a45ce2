// CSR's sentence-level search over a served model, end to end: a real `selfsynth serve` process on
// the shipped base is the endpoint, the HTTP backend talks to it, the served candidate generator
// proposes sentences (continued assistant prefixes, stop at '.', log-probs), and the shipped
// CLIP-style scorer scores them. On two rendered scenes at small settings: every image finishes
// paths; every candidate sentence ends at a sentence boundary (the stop mark only at its end) and
// every answer continues the prefix it was asked to continue; every node is released.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { EmbeddedImageTextScorer } from "../../../src/backends/embedded.js";
import { HttpBackend } from "../../../src/backends/http.js";
import { setNumThreads } from "../../../src/engine/index.js";
import type {
  CandidateGenerator,
  CandidateSentence,
  ExpandRequest,
  SearchPrompt,
} from "../../../src/methods/csr/candidates.js";
import { sentenceSearch } from "../../../src/methods/csr/search.js";
import { ServedCandidateGenerator } from "../../../src/methods/csr/served-candidates.js";
import { DESCRIPTION_PROMPTS } from "../../../src/train/world-data.js";
import { encodePng } from "../../../src/world/build.js";
import { loadWorldConfig } from "../../../src/world/config.js";
import { renderScene } from "../../../src/world/render.js";
import { Rng } from "../../../src/world/rng.js";
import { sampleScene } from "../../../src/world/scene.js";
import { type ServeProcess, startServe } from "../../cli/selfsynth-process.js";

setNumThreads(1);

let serve: ServeProcess | undefined;
let backend: HttpBackend;
let scorer: EmbeddedImageTextScorer;
let prompts: SearchPrompt[];

before(async () => {
  serve = await startServe("assets/base");
  const { url } = serve;
  const models = await (await fetch(`${url}/models`)).json();
  backend = new HttpBackend({ baseUrls: [url], model: models.data[0].id, timeoutMs: 60_000 });
  scorer = EmbeddedImageTextScorer.load("assets/scorer");
  const world = loadWorldConfig("assets/world/default.yaml");
  prompts = await Promise.all(
    [1, 2].map(async (i) => ({
      id: `scene-${i}`,
      image: {
        bytes: await encodePng(renderScene(sampleScene(world, Rng.from("csr-served", i)), world)),
        mimeType: "image/png",
      },
      messages: [{ role: "user" as const, content: DESCRIPTION_PROMPTS[0] }],
    })),
  );
});

after(async () => {
  await backend?.close();
  await scorer?.close();
  await serve?.stop();
});

/** The served generator, with every request and its candidates recorded. */
class Recording implements CandidateGenerator {
  readonly name = "recording";
  readonly calls: { request: ExpandRequest; candidates: CandidateSentence[] }[] = [];
  heldAtClose = -1;
  constructor(readonly inner: ServedCandidateGenerator) {}
  async expand(requests: readonly ExpandRequest[]) {
    const out = await this.inner.expand(requests);
    requests.forEach((request, i) => {
      this.calls.push({ request, candidates: out[i] });
    });
    return out;
  }
  release(nodes: readonly string[]) {
    this.inner.release(nodes);
  }
  async close() {
    this.heldAtClose = this.inner.held;
    await this.inner.close();
  }
}

test("the search over `selfsynth serve`: finished paths, sentence boundaries, answers that continue their prefixes", async () => {
  const generator = new Recording(
    new ServedCandidateGenerator(backend, {
      proposal: { kind: "sampling", n: 3, temperature: 1, topP: 1 },
      maxSentenceTokens: 40,
      stopMark: ".",
      seed: 0,
    }),
  );
  const searches = await sentenceSearch(prompts, generator, scorer, {
    reward: { lambda: 0.9, mix: "paper" },
    keep: { best: 1, worst: 1 },
    selectBy: "reward",
    maxCharacters: 160,
  });
  assert.equal(generator.heldAtClose, 0, "every node expanded or released by the end");
  for (const search of searches) {
    const id = search.prompt.id;
    assert.ok(search.finished.length >= 1, `${id}: finished paths`);
    for (const path of search.finished) {
      assert.ok(path.relevance.length >= 1 && path.response !== "", `${id}: a path of sentences`);
      assert.ok(["end", "characters", "context"].includes(path.finish), `${id}: ${path.finish}`);
    }
  }
  const levels = new Set(generator.calls.map((c) => c.request.node.split(".").length));
  assert.ok(levels.size >= 2, "the answers grew over several sentences");
  for (const { request, candidates } of generator.calls) {
    assert.equal(candidates.length === 3 || candidates[0]?.finish === "context", true, request.node);
    for (const c of candidates) {
      const at = `${request.node} -> ${c.node}: ${JSON.stringify(c.response)}`;
      // A sentence holds the stop mark at its end only when it stopped there, nowhere else.
      assert.equal(c.sentence.indexOf("."), c.finish === "sentence" ? c.sentence.length - 1 : -1, at);
      assert.equal(c.final, c.finish === "end" || c.finish === "context", at);
      // The answer is the prefix it was asked to continue, then the sentence, one space between
      // them as the base's tokenizer decodes a whole answer (serve's continuation has none).
      const whole =
        request.prefix === "" || c.sentence === ""
          ? `${request.prefix}${c.sentence}`
          : `${request.prefix} ${c.sentence}`;
      assert.equal(c.response, whole, at);
      assert.ok(c.logprobs.length >= 1 || c.finish === "context", at);
      assert.ok(
        c.logprobs.every((l) => l <= 0),
        at,
      );
    }
  }
  // A node asked to continue is a candidate the search was given, with its answer as the prefix.
  const given = new Map(generator.calls.flatMap((c) => c.candidates.map((k) => [k.node, k.response] as const)));
  for (const { request } of generator.calls)
    if (request.prefix !== "") assert.equal(given.get(request.node), request.prefix, request.node);
});
