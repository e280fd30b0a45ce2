// `selfsynth eval` on standard files (a POPE question file, COCO instance annotations, an image
// folder, all written here) with a tiny embedded model, and with the same checkpoint behind a
// real `selfsynth serve`: the records and the metrics must be the same both ways.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, mock, test } from "node:test";
import { Command } from "commander";
import { registerEval } from "../../src/cli/commands/eval.js";
import { setNumThreads } from "../../src/engine/index.js";
import { encodeJpeg, encodePng } from "../../src/images/index.js";
import { Tokenizer } from "../../src/models/tokenizer.js";
import { saveVLM } from "../../src/models/vlm-io.js";
import { type RunningServer, startServer } from "../../src/serve/index.js";
import { peakedVlm } from "../models/peaked-vlm.js";
import { pattern } from "../serve/fixture.js";

setNumThreads(1);

const root = mkdtempSync(join(tmpdir(), "selfsynth-eval-endpoint-"));
const modelDir = join(root, "model");
const images = join(root, "images");
let server: RunningServer;

/** A vocabulary with COCO words, so that the untrained model's descriptions can name objects. */
function cocoTokenizer(): Tokenizer {
  return Tokenizer.build([
    "is there a dog in the image? yes. no. please describe this image in detail.",
    "a man rides a motorbike next to two dogs and a hot dog on the dining table.",
    "a cat sits on the couch near a teddy bear and a person with a cup.",
  ]);
}

before(async () => {
  const tokenizer = cocoTokenizer();
  const model = peakedVlm(tokenizer, 5);
  saveVLM(modelDir, model, tokenizer);
  model.dispose();
  // Three images of other sizes than the model's 8x8 (both backends resize them alike), PNG and JPEG.
  const { mkdirSync } = await import("node:fs");
  mkdirSync(images);
  writeFileSync(join(images, "COCO_val2014_000000000001.jpg"), await encodeJpeg(pattern(1, 16, 12)));
  writeFileSync(join(images, "COCO_val2014_000000000002.png"), await encodePng(pattern(2, 8, 8)));
  writeFileSync(join(images, "COCO_val2014_000000000003.png"), await encodePng(pattern(3, 20, 20)));
  const questions = [
    [1, 1, "dog", "yes"],
    [2, 1, "cat", "no"],
    [3, 2, "person", "yes"],
    [4, 2, "cup", "no"],
    [5, 3, "couch", "yes"],
    [6, 3, "teddy bear", "no"],
  ];
  writeFileSync(
    join(root, "coco_pope_random.json"),
    questions
      .map(([id, image, object, label]) =>
        JSON.stringify({
          question_id: id,
          image: `COCO_val2014_00000000000${image}.${image === 1 ? "jpg" : "png"}`,
          text: `Is there a ${object} in the image?`,
          label,
        }),
      )
      .join("\n"),
  );
  writeFileSync(
    join(root, "instances.json"),
    JSON.stringify({
      images: [1, 2, 3].map((id) => ({ id, file_name: `COCO_val2014_00000000000${id}.${id === 1 ? "jpg" : "png"}` })),
      annotations: [
        { image_id: 1, category_id: 18 },
        { image_id: 2, category_id: 1 },
        { image_id: 3, category_id: 63 },
      ],
      categories: [
        { id: 1, name: "person" },
        { id: 18, name: "dog" },
        { id: 63, name: "couch" },
      ],
    }),
  );
  server = await startServer({ modelDir, modelName: "tiny", host: "127.0.0.1", port: 0, batchWindowMs: 5 });
});

after(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

/** Runs `selfsynth eval ...args --json` and returns the last line of stdout, parsed. */
async function evalJson(args: string[]): Promise<{ bench: string; metrics: Record<string, number> }> {
  const log = mock.method(console, "log", () => {});
  const err = mock.method(console, "error", () => {});
  try {
    const program = new Command().exitOverride();
    registerEval(program);
    await program.parseAsync(["eval", ...args, "--json"], { from: "user" });
    return JSON.parse(String(log.mock.calls.at(-1)?.arguments[0]));
  } finally {
    log.mock.restore();
    err.mock.restore();
  }
}

const embedded = () => ["--model", modelDir];
const endpoint = () => ["--endpoint", `${server.url}/v1`, "--served-model", "tiny"];

for (const [bench, files, maxTokens] of [
  ["pope", ["--questions", "coco_pope_random.json"], "6"],
  ["chair", ["--annotations", "instances.json"], "24"],
] as const) {
  test(`eval --bench ${bench} on files: the endpoint gives the embedded model's records and metrics`, async () => {
    const source = [...files.map((f) => (f.startsWith("--") ? f : join(root, f))), "--images", images];
    const common = ["--bench", bench, ...source, "--max-tokens", maxTokens, "--batch-size", "4"];
    const out = { embedded: join(root, `${bench}-embedded`), endpoint: join(root, `${bench}-endpoint`) };
    const a = await evalJson([...embedded(), ...common, "--out", out.embedded]);
    const b = await evalJson([...endpoint(), ...common, "--out", out.endpoint]);
    assert.equal(a.bench, bench);
    assert.deepEqual(b, a);
    const records = (dir: string) => readFileSync(join(dir, `${bench}.records.jsonl`), "utf8");
    assert.equal(records(out.endpoint), records(out.embedded));
    const lines = records(out.embedded)
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, bench === "pope" ? 6 : 3);
    assert.ok(
      lines.some((r) => r.raw_answer !== ""),
      "the model answered something",
    );
    if (bench === "chair") {
      assert.equal(lines[0].prompt, "<image>\nPlease describe this image in detail.");
      assert.deepEqual(lines[0].ground_truth, { objects: ["dog"] });
    }
    const stored = JSON.parse(readFileSync(join(out.endpoint, `${bench}.json`), "utf8"));
    assert.match(stored.model, /^http:tiny@127\.0\.0\.1:/);
  });
}

test("an endpoint without the named model fails at start, naming the endpoint and the models it has", async () => {
  const common = ["--bench", "pope", "--questions", join(root, "coco_pope_random.json"), "--images", images];
  await assert.rejects(
    evalJson(["--endpoint", `${server.url}/v1`, "--served-model", "llava", ...common, "--out", join(root, "bad")]),
    new RegExp(`endpoint ${server.url}/v1 does not serve model "llava" \\(it serves tiny\\)`),
  );
});
