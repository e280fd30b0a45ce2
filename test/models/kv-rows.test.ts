// KvRows on the tiny peaked VLM: after any steps (rows kept in place, repeated, reordered,
// dropped), every row's next-token logits equal those of its whole sequence encoded afresh, and a
// snapshot equals the cache of that sequence. The caches are written in place (kv-rows.ts), so
// the cases that would show a corrupted shared prefix are here: two rows continuing the same row
// with different tokens, then stepping on in place, and buffers too small for the steps (grown).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { liveTensorCount, setNumThreads, type Tensor } from "../../src/engine/index.js";
import { encodeChat } from "../../src/models/chat-template.js";
import { disposeKvState, KvRows, type KvState } from "../../src/models/kv-rows.js";
import { pattern, peakedVlm, tinyTokenizer } from "./peaked-vlm.js";

setNumThreads(1);

const tokenizer = tinyTokenizer();
const model = peakedVlm(tokenizer, 11);
after(() => model.dispose());
const pad = tokenizer.specialIds.pad;

const prompt = (text: string, image: boolean) =>
  encodeChat(tokenizer, [{ role: "user", content: image ? `<image> ${text}` : text }], {
    numImageTokens: model.numImageTokens,
    addGenerationPrompt: true,
  }).inputIds;

const word = (w: string) => tokenizer.idOf(w);

interface Row {
  tokens: number[];
  image: Float32Array | null;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** Next-token logits of each sequence, encoded alone from scratch. */
function fresh(rows: Row[]): Float32Array[] {
  return rows.map((r) => {
    const { rows: kv, logits } = KvRows.prefill(model, pad, [r.tokens], [r.image]);
    kv.dispose();
    const out = logits.toFloat32();
    logits.dispose();
    return out;
  });
}

function assertRowsEqual(logits: Tensor, rows: Row[], what: string): void {
  const got = logits.toFloat32();
  logits.dispose();
  const V = got.length / rows.length;
  fresh(rows).forEach((want, i) => {
    const d = maxDiff(got.subarray(i * V, (i + 1) * V), want);
    assert.ok(d < 1e-4, `${what}: row ${i} differs by ${d}`);
  });
}

/** Steps `kv` with `order` and `tokens`, mirrors it on `rows`, and checks every row's logits. */
function step(kv: KvRows, rows: Row[], order: number[], tokens: number[], what: string): Row[] {
  const next = order.map((r, i) => ({ tokens: [...rows[r].tokens, tokens[i]], image: rows[r].image }));
  assertRowsEqual(kv.step(model, order, tokens), next, what);
  return next;
}

const starts = (): Row[] => [
  { tokens: prompt("Describe the image.", true), image: pattern(1) },
  { tokens: prompt("Is there a yellow heart in the middle?", false), image: null },
];

test("two rows continue one row with different tokens, then step on in place: no row sees another's tokens", () => {
  const live = liveTensorCount();
  let rows = starts();
  const pre = KvRows.prefill(
    model,
    pad,
    rows.map((r) => r.tokens),
    rows.map((r) => r.image),
  );
  assertRowsEqual(pre.logits, rows, "prefill");
  const kv = pre.rows;
  const [a, b, c] = [word("red"), word("blue"), word("circle")];
  rows = step(kv, rows, [0, 0, 1], [a, b, c], "row 0 repeated with different tokens");
  rows = step(kv, rows, [0, 1, 2], [c, c, a], "in place after the repeat");
  rows = step(kv, rows, [0, 1, 2], [b, a, b], "in place again");
  rows = step(kv, rows, [1, 0, 1], [a, b, c], "reordered and repeated");
  rows = step(kv, rows, [2], [a], "rows dropped");
  kv.dispose();
  assert.equal(liveTensorCount(), live, "no tensor left");
});

test("snapshots and batches of states: equal to encoding afresh, also when the buffers must grow", () => {
  const live = liveTensorCount();
  const base = starts();
  const pre = KvRows.prefill(
    model,
    pad,
    base.map((r) => r.tokens.slice(0, -1)),
    base.map((r) => r.image),
  );
  pre.logits.dispose();
  const states: KvState[] = base.map((_, i) => pre.rows.snapshot(i));
  pre.rows.dispose();
  for (const room of [0, 1, 32]) {
    // room 0 and 1: the first steps fill the spare columns and the buffers grow (a copy).
    const kv = KvRows.fromStates([states[1], states[0], states[0]], room);
    let rows = [base[1], base[0], base[0]].map((r) => ({ ...r, tokens: r.tokens.slice(0, -1) }));
    rows = step(
      kv,
      rows,
      [0, 1, 2],
      rows.map((_, i) => base[[1, 0, 0][i]].tokens.at(-1) as number),
      `room ${room}: last tokens`,
    );
    rows = step(kv, rows, [0, 1, 2], [word("red"), word("blue"), word("red")], `room ${room}: one state, two rows`);
    for (let s = 0; s < 3; s++)
      rows = step(kv, rows, [0, 1, 2], [word("circle"), word("square"), word("heart")], `room ${room}: step ${s}`);
    // A snapshot is the row's own sequence: a batch of it continues as the row does.
    const snap = kv.snapshot(2);
    assert.equal(snap.length, rows[2].tokens.length);
    const again = KvRows.fromStates([snap], 0);
    assertRowsEqual(
      again.step(model, [0], [word("heart")]),
      [{ tokens: [...rows[2].tokens, word("heart")], image: rows[2].image }],
      `room ${room}: snapshot`,
    );
    again.dispose();
    disposeKvState(snap);
    kv.dispose();
  }
  for (const s of states) disposeKvState(s);
  assert.equal(liveTensorCount(), live, "no tensor left");
});
