import assert from "node:assert/strict";
import { test } from "node:test";
import type { GenerationRequest } from "../../../src/backends/types.js";
import { decodeImage } from "../../../src/images/codec.js";
import { type SticItem, sticPairs } from "../../../src/methods/stic/preferences.js";
import { imageTurn, PAPER_PROMPTS, SCENEWORLD_PROMPTS } from "../../../src/methods/stic/prompts.js";
import { FakeVlm, imagePath, testImage } from "./fake-vlm.js";

async function makeItems(count: number, prefix = "img"): Promise<SticItem[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => ({
      id: `${prefix}-${i}`,
      image: await testImage(i),
      source: `w${i}`,
    })),
  );
}

const base = { stage: "stic-pairs", imagePath };
const userText = (r: GenerationRequest) => r.messages[0].content;
const rejectedRequests = (vlm: FakeVlm) =>
  vlm.calls.flatMap((c) => c.requests.filter((r) => r.id?.endsWith("/rejected")).map((r) => ({ r, params: c.params })));

test("pairs are deterministic and independent of chunking and of the other items", async () => {
  const items = await makeItems(23);
  const a = await sticPairs(new FakeVlm(), items, { ...base, chunkSize: 16 }, 11);
  const b = await sticPairs(new FakeVlm(), items, { ...base, chunkSize: 5 }, 11);
  const c = await sticPairs(new FakeVlm(), [...items].reverse(), { ...base, chunkSize: 7 }, 11);
  const d = await sticPairs(new FakeVlm(), items.slice(10, 13), { ...base, chunkSize: 1 }, 11);
  const byId = (ps: typeof a.pairs) => [...ps].sort((x, y) => x.id.localeCompare(y.id));
  assert.equal(a.pairs.length, 23);
  assert.deepEqual(a.pairs, b.pairs);
  assert.deepEqual(byId(c.pairs), byId(a.pairs));
  assert.deepEqual(d.pairs, a.pairs.slice(10, 13));
  // Another seed gives other answers.
  const e = await sticPairs(new FakeVlm(), items, base, 12);
  assert.notDeepEqual(
    e.pairs.map((p) => p.chosen),
    a.pairs.map((p) => p.chosen),
  );
});

test("chunks batch the chosen requests in one call and the rejected ones in another", async () => {
  const vlm = new FakeVlm();
  await sticPairs(vlm, await makeItems(10), { ...base, chunkSize: 4 }, 3);
  // 3 chunks (4, 4, 2), 2 calls each with the paper's prompts (one sampling setting).
  assert.equal(vlm.calls.length, 6);
  const sizes = vlm.calls.map((c) => c.requests.length);
  assert.deepEqual(sizes, [4, 4, 4, 4, 2, 2]);
  for (const c of vlm.calls) {
    const kinds = new Set(c.requests.map((r) => r.id!.split("/")[1]));
    assert.equal(kinds.size, 1, "a call holds chosen or rejected requests, not both");
    assert.deepEqual(
      { n: c.params.n, temperature: c.params.temperature, maxTokens: c.params.maxTokens, seed: c.params.seed },
      { n: 1, temperature: 0.2, maxTokens: 1024, seed: 3 },
    );
  }
  for (const c of vlm.calls.filter((c) => c.requests[0].id!.endsWith("/chosen"))) {
    for (const r of c.requests) assert.equal(userText(r), imageTurn(PAPER_PROMPTS.detailed));
  }
});

test("on 200 items both branches occur about half the time, and both corruptions within their branch", async () => {
  const result = await sticPairs(new FakeVlm(), await makeItems(200), { ...base, chunkSize: 32 }, 5);
  assert.equal(result.pairs.length, 200);
  const first = result.pairs.map((p) => p.provenance.reasons![0]);
  const hallucination = first.filter((r) => r.startsWith("rejected:hallucination-prompt:")).length;
  const downscale = first.filter((r) => r === "rejected:corrupted:downscale").length;
  const jitter = first.filter((r) => r === "rejected:corrupted:jitter").length;
  assert.equal(hallucination + downscale + jitter, 200);
  // Binomial(200, 0.5) has sd 7.1: 100 +- 30 is over 4 sd.
  assert.ok(hallucination > 70 && hallucination < 130, `hallucination branch: ${hallucination}`);
  assert.ok(downscale > 25 && jitter > 25, `downscale ${downscale}, jitter ${jitter}`);
  // Every inducer and every stored prompt shows up.
  const inducers = new Set(first.filter((r) => r.startsWith("rejected:hall")).map((r) => r.split(":")[2]));
  assert.equal(inducers.size, 8);
  assert.equal(new Set(result.pairs.map((p) => p.prompt[0].content)).size, 8);
});

test("corruption-branch requests carry corrupted bytes; with corruptImage: false, the original", async () => {
  const items = await makeItems(40);
  const original = new Map(items.map((i) => [`${i.id}/rejected`, Buffer.from(i.image.bytes)]));
  const vlm = new FakeVlm();
  const result = await sticPairs(vlm, items, base, 9);
  const reasonOf = new Map(result.pairs.map((p) => [`${p.id}/rejected`, p.provenance.reasons![0]]));
  let corrupted = 0;
  for (const { r } of rejectedRequests(vlm)) {
    const reason = reasonOf.get(r.id!)!;
    const bytes = Buffer.from(r.images[0].bytes);
    if (reason.startsWith("rejected:hallucination-prompt:")) {
      assert.deepEqual(bytes, original.get(r.id!));
      const index = Number(reason.split(":")[2]);
      assert.equal(userText(r), imageTurn(PAPER_PROMPTS.hallucination[index].prompt));
      continue;
    }
    corrupted++;
    assert.notDeepEqual(bytes, original.get(r.id!), `${r.id} should carry a corrupted image`);
    const decoded = await decodeImage(r.images[0].bytes);
    const size = reason.endsWith("downscale") ? 20 : 64;
    assert.deepEqual([decoded.width, decoded.height], [size, size], reason);
    // The corruption branch asks the stored plain prompt.
    const pair = result.pairs.find((p) => `${p.id}/rejected` === r.id)!;
    assert.equal(userText(r), pair.prompt[0].content);
  }
  assert.ok(corrupted > 5);

  const plain = new FakeVlm();
  const codeVariant = await sticPairs(plain, items, { ...base, corruptImage: false }, 9);
  for (const { r } of rejectedRequests(plain)) assert.deepEqual(Buffer.from(r.images[0].bytes), original.get(r.id!));
  // Same draws: the same branches, now marked as skipped.
  codeVariant.pairs.forEach((p, i) => {
    assert.equal(p.provenance.reasons![0], result.pairs[i].provenance.reasons![0]);
    if (p.provenance.reasons![0].startsWith("rejected:corrupted:"))
      assert.deepEqual(p.provenance.reasons, [p.provenance.reasons![0], "corruption:skipped"]);
  });
});

test("stored prompts are plain prompts; provenance is filled; records point at the clean image", async () => {
  const items = await makeItems(30);
  const result = await sticPairs(new FakeVlm("fake:policy"), items, { ...base, round: 2 }, 4);
  const plain = PAPER_PROMPTS.plain.map((p) => imageTurn(p));
  for (const [i, p] of result.pairs.entries()) {
    assert.equal(p.kind, "preference");
    assert.equal(p.prompt.length, 1);
    assert.equal(p.prompt[0].role, "user");
    assert.ok(plain.includes(p.prompt[0].content), p.prompt[0].content);
    assert.deepEqual(p.images, [await imagePath(items[i].image)]);
    assert.notEqual(p.chosen, p.rejected);
    const v = p.provenance;
    assert.equal(v.method, "stic");
    assert.equal(v.stage, "stic-pairs");
    assert.equal(v.round, 2);
    assert.equal(v.model, "fake:policy");
    assert.equal(v.seed, 4);
    assert.equal(v.source, `w${i}`);
    assert.match(v.reasons![0], /^rejected:(hallucination-prompt:[0-7]|corrupted:(downscale|jitter))$/);
    assert.equal(v.sampling!.temperature, 0.2);
    assert.equal(v.sampling!.max_tokens, 1024);
    assert.equal(v.sampling!.prompt_set, "paper");
    if (v.reasons![0] === "rejected:corrupted:jitter") {
      assert.ok((v.sampling!.jitter_brightness as number) >= 0.5 && (v.sampling!.jitter_brightness as number) <= 1.5);
      assert.ok(Math.abs(v.sampling!.jitter_hue as number) <= 0.3);
    }
  }
});

test("drops are counted by reason, and dropped items give no pair", async () => {
  const items = await makeItems(12);
  const vlm = new FakeVlm("fake:drops", (r) => {
    const [id, side] = r.id!.split("/");
    if (id === "img-1" && side === "chosen") return "  ";
    if (id === "img-2" && side === "rejected") return "";
    if (id === "img-3" || id === "img-4") return "The same answer.";
    return undefined;
  });
  const images: string[] = [];
  const result = await sticPairs(
    vlm,
    items,
    {
      ...base,
      imagePath: async (img) => {
        images.push("x");
        return imagePath(img);
      },
    },
    1,
  );
  assert.deepEqual(result.drops, { "empty-chosen": 1, "empty-rejected": 1, identical: 2 });
  assert.deepEqual(result.dropped, [
    { itemId: "img-1", reason: "empty-chosen" },
    { itemId: "img-2", reason: "empty-rejected" },
    { itemId: "img-3", reason: "identical" },
    { itemId: "img-4", reason: "identical" },
  ]);
  assert.equal(result.pairs.length, 8);
  assert.equal(images.length, 8, "dropped pairs store no image");
});

test("onChunk sees each chunk's pairs and drops as they are made", async () => {
  const seen: [number, number, number][] = [];
  const result = await sticPairs(
    new FakeVlm(),
    await makeItems(7),
    { ...base, chunkSize: 3, onChunk: (chunk, done, total) => void seen.push([chunk.pairs.length, done, total]) },
    2,
  );
  assert.deepEqual(seen, [
    [3, 3, 7],
    [3, 6, 7],
    [1, 7, 7],
  ]);
  assert.equal(result.pairs.length, 7);
});

test("sceneworld set: hot-sampled inducers go in their own calls with their sampling", async () => {
  const vlm = new FakeVlm();
  const result = await sticPairs(vlm, await makeItems(60), { ...base, prompts: SCENEWORLD_PROMPTS, chunkSize: 60 }, 8);
  const plain = SCENEWORLD_PROMPTS.plain.map((p) => imageTurn(p));
  for (const p of result.pairs) assert.ok(plain.includes(p.prompt[0].content));
  // One chosen call, and one rejected call per sampling setting: pass (corruption), T=1.5, T=2.0.
  assert.equal(vlm.calls.length, 4);
  const settings = vlm.calls
    .filter((c) => c.requests[0].id!.endsWith("/rejected"))
    .map((c) => `${c.params.temperature}/${c.params.topK}`)
    .sort();
  assert.deepEqual(settings, ["0.2/0", "1.5/5", "2/5"]);
  for (const { r, params } of rejectedRequests(vlm)) {
    const pair = result.pairs.find((p) => `${p.id}/rejected` === r.id)!;
    const reason = pair.provenance.reasons![0];
    if (!reason.startsWith("rejected:hallucination-prompt:")) continue;
    const inducer = SCENEWORLD_PROMPTS.hallucination[Number(reason.split(":")[2])];
    assert.equal(userText(r), imageTurn(inducer.prompt));
    assert.equal(params.temperature, inducer.sampling!.temperature);
    assert.equal(pair.provenance.sampling!.rejected_temperature, inducer.sampling!.temperature);
  }
});

test("bad options and duplicate ids are refused before any call", async () => {
  const vlm = new FakeVlm();
  const items = await makeItems(2);
  await assert.rejects(sticPairs(vlm, [items[0], items[0]], base, 1), /item id "img-0" appears twice/);
  await assert.rejects(sticPairs(vlm, items, { ...base, chunkSize: 0 }, 1), /chunkSize 0/);
  await assert.rejects(sticPairs(vlm, items, base, -1), /seed -1/);
  assert.equal(vlm.calls.length, 0);
});
