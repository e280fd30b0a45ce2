// Image weakening: the noised copy is drawn per positive; the released code's contrastive variant
// runs on the embedded backend (seeded as the backend seeds its requests) and is refused, with
// a reason, by a backend that cannot give per-step logits.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { EmbeddedBackend } from "../../../src/backends/embedded.js";
import { setNumThreads } from "../../../src/engine/index.js";
import { decodeImage } from "../../../src/images/codec.js";
import { MINUS_ONE_ONE } from "../../../src/images/diffusion-noise.js";
import {
  ContrastiveBackendError,
  checkContrastiveBackend,
  generateContrastively,
  weakenedImage,
} from "../../../src/methods/bpo/weakening.js";
import { itemRng } from "../../../src/methods/common/item-rng.js";
import { Tokenizer } from "../../../src/models/tokenizer.js";
import { peakedVlm } from "../../models/peaked-vlm.js";
import { FakeVlm, testImage } from "../stic/fake-vlm.js";

setNumThreads(1);
const tokenizer = Tokenizer.build(["describe the image. a red circle, a blue square and two green stars. yes. no."]);
const model = peakedVlm(tokenizer, 5);
const backend = new EmbeddedBackend(model, tokenizer, { name: "embedded:tiny" });
after(() => backend.close());

test("the noised image is a function of the positive's stream: same stream, same image", async () => {
  const item = { id: "p/weakening", positiveId: "p", image: await testImage(2, 16) };
  const options = { t: 900, normalize: MINUS_ONE_ONE };
  const a = await weakenedImage(item, options, itemRng(0, "bpo", "noise:p"));
  const b = await weakenedImage(item, options, itemRng(0, "bpo", "noise:p"));
  const c = await weakenedImage(item, options, itemRng(0, "bpo", "noise:q"));
  assert.deepEqual(a.image.bytes, b.image.bytes);
  assert.notDeepEqual(a.image.bytes, c.image.bytes);
  const small = await weakenedImage(item, { ...options, t: 0 }, itemRng(0, "bpo", "noise:p"));
  // At t = 0 the noise std is 0.6 levels: the image is nearly the original; at 900 it is not.
  const clean = (await decodeImage(item.image.bytes)).data;
  const diff = async (bytes: Uint8Array) => {
    const d = (await decodeImage(bytes)).data;
    return d.reduce((s, v, i) => s + Math.abs(v - clean[i]), 0) / d.length;
  };
  assert.ok((await diff(small.image.bytes)) < 1.5);
  assert.ok((await diff(a.image.bytes)) > 30);
});

test("contrastive decoding is refused by a backend without per-step logits, naming it", () => {
  assert.throws(
    () => checkContrastiveBackend(new FakeVlm("http:llava@host")),
    (e: Error) =>
      e instanceof ContrastiveBackendError &&
      /weakening.decoding: contrastive .* only the embedded backend .*; http:llava@host does not support it/.test(
        e.message,
      ),
  );
  assert.equal(checkContrastiveBackend(backend), backend);
});

test("contrastive with α = 0 samples what the embedded backend samples from the clean image", async () => {
  const requests = await Promise.all(
    [0, 1, 2].map(async (i) => ({
      id: `p${i}/weakening`,
      images: [await testImage(i, 8)],
      messages: [{ role: "user" as const, content: "<image>\ndescribe the image." }],
    })),
  );
  const noisy = await Promise.all([5, 6, 7].map((i) => testImage(i, 8)));
  const params = { n: 1, temperature: 0.7, topP: 1, topK: 0, maxTokens: 8, stop: [], seed: 3, logprobs: false };
  const plain = await backend.generate(requests, params);
  const cd = await generateContrastively(backend, requests, noisy, params, { alpha: 0, beta: 1e-30 }, 2);
  assert.deepEqual(
    cd.map((s) => s[0].tokens),
    plain.map((s) => s[0].tokens),
  );
  // With a strong contrast the answers change.
  const strong = await generateContrastively(
    backend,
    requests,
    noisy,
    { ...params, temperature: 0 },
    { alpha: 3, beta: 0.01 },
  );
  const greedy = await backend.generate(requests, { ...params, temperature: 0 });
  assert.notDeepEqual(
    strong.map((s) => s[0].tokens),
    greedy.map((s) => s[0].tokens),
  );
});
