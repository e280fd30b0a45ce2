// `selfsynth run` over a served model and the user's images, end to end: a real `selfsynth serve`
// process (a tiny random-weights VLM) is the endpoint, and STIC's stage 1 (dataOnly) makes its
// preference pairs from a folder of PNG and JPEG files written here (one corrupt file among them:
// a reason-coded drop). Bad endpoints and bad sources fail at run start, before any stage. (A stage
// that trains the served model: test/cli/run-served-train.test.ts.)
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { after, before, mock, test } from "node:test";
import { Command } from "commander";
import { registerRun } from "../../src/cli/commands/run.js";
import { encodeJpeg, encodePng } from "../../src/images/index.js";
import { registerBuiltinMethods } from "../../src/methods/index.js";
import { tinyWorldStage } from "../methods/stic/stage-fixtures.js";
import { pattern } from "../serve/fixture.js";

const fx = tinyWorldStage("selfsynth-run-endpoint-");
const images = join(fx.dir, "images");
let serve: ChildProcess;
let url = "";
let fake: Server;
let fakeUrl = "";

/** Starts `selfsynth serve` as its own process; resolves with its base URL (without /v1). */
function startServe(modelDir: string): Promise<string> {
  serve = spawn(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "serve", "--model", modelDir, "--port", "0", "--served-model-name", "tiny"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let err = "";
    serve.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      const m = /at (http:\/\/\S+)\/v1/.exec(err);
      if (m) resolve(m[1]);
    });
    serve.once("exit", (code) => reject(new Error(`selfsynth serve exited (${code}): ${err}`)));
  });
}

/** A llama.cpp-like server: wants a key, lists its model, answers chat with logprobs, no prompt_logprobs. */
function startFake(): Promise<string> {
  fake = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    req.resume();
    req.on("end", () => {
      if (req.headers.authorization !== "Bearer sesame") return send(401, { error: { message: "bad key" } });
      if (req.url === "/v1/models") return send(200, { data: [{ id: "fake" }] });
      if (req.url === "/v1/chat/completions") {
        const choice = (index: number) => ({
          index,
          message: { role: "assistant", content: "a" },
          finish_reason: "length",
          logprobs: { content: [{ token: "a", logprob: -1, top_logprobs: [] }] },
        });
        return send(200, { id: "x", object: "chat.completion", model: "fake", choices: [choice(0), choice(1)] });
      }
      send(404, { error: { message: "no such route" } });
    });
  });
  return new Promise((resolve) =>
    fake.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(fake.address() as { port: number }).port}`)),
  );
}

before(async () => {
  mkdirSync(join(images, "nested"), { recursive: true });
  writeFileSync(join(images, "a.png"), await encodePng(pattern(1, 32, 32)));
  writeFileSync(join(images, "b.jpg"), await encodeJpeg(pattern(2, 40, 30)));
  writeFileSync(join(images, "nested", "c.png"), await encodePng(pattern(3, 24, 24)));
  writeFileSync(join(images, "nested", "d.jpeg"), await encodeJpeg(pattern(4, 32, 32)));
  writeFileSync(join(images, "broken.png"), (await encodePng(pattern(5, 32, 32))).slice(0, 50));
  mkdirSync(join(fx.dir, "no-images"));
  url = await startServe(fx.base);
  fakeUrl = await startFake();
});

after(async () => {
  // Kept-alive client sockets would hold both servers (and this process) open: end them.
  const exited = new Promise<void>((resolve) =>
    serve === undefined || serve.exitCode !== null ? resolve() : serve.once("exit", () => resolve()),
  );
  serve?.kill("SIGTERM");
  fake?.closeAllConnections();
  await new Promise<void>((resolve) => (fake ? fake.close(() => resolve()) : resolve()));
  await exited;
});

let registered = false;
/** Runs `selfsynth run RECIPE --out DIR` in this process over a recipe written from `doc`. */
async function run(name: string, doc: Record<string, unknown>): Promise<string> {
  const recipe = join(fx.dir, `${name}.yaml`);
  writeFileSync(recipe, JSON.stringify({ name, ...doc }));
  const out = join(fx.dir, "runs", name);
  const err = mock.method(process.stderr, "write", () => true);
  try {
    const program = new Command().exitOverride();
    registerRun(program, {
      registerKinds: () => {
        if (!registered) registerBuiltinMethods();
        registered = true;
      },
      print: () => {},
    });
    await program.parseAsync(["run", recipe, "--out", out], { from: "user" });
  } finally {
    err.mock.restore();
  }
  return out;
}

const served = (extra: Record<string, unknown> = {}) => ({
  endpoint: { baseUrls: [`${url}/v1`], model: "tiny", maxAttempts: 2, ...extra },
});
const sticStage = (extra: Record<string, unknown> = {}) => ({
  name: "pairs",
  type: "stic-preferences",
  dataOnly: true,
  images: 5,
  generation: { maxTokens: 6, chunkSize: 3 },
  ...extra,
});

test("STIC stage 1 over `selfsynth serve` and an image folder: pairs from the endpoint, the corrupt file a drop", async () => {
  const out = await run("stic-endpoint", { model: served(), images: { folder: images }, stages: [sticStage()] });
  const data = join(out, "stages", "pairs", "data");
  const pairs = readFileSync(join(data, "pairs.jsonl"), "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const drops = readFileSync(join(data, "drops.jsonl"), "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  assert.ok(pairs.length >= 1, "at least one pair");
  assert.equal(pairs.length + drops.length, 5, "every image gives a pair or a drop");
  assert.deepEqual(
    drops.find((d) => d.itemId === "broken.png"),
    { itemId: "broken.png", reason: "corrupt" },
  );
  // The pairs were generated by the endpoint, over the folder's images (stored in the dataset).
  for (const p of pairs) {
    assert.match(p.provenance.model, /tiny/);
    assert.ok(["a.png", "b.jpg", "nested/c.png", "nested/d.jpeg"].includes(p.id), `a pair per good image: ${p.id}`);
    for (const image of p.images) assert.ok(existsSync(join(data, image)), image);
  }
  const step = JSON.parse(readFileSync(join(out, "stages", "pairs", "steps", "pairs.json"), "utf8"));
  assert.equal(step.result.drops.corrupt, 1, "the decode drop is counted in the stage's step");
  const stage = JSON.parse(readFileSync(join(out, "stages", "pairs", "stage.json"), "utf8"));
  assert.equal(stage.model, `endpoint:tiny@${url}/v1`, "dataOnly: the model is still the endpoint");
  assert.ok(!existsSync(join(out, "stages", "pairs", "model")), "nothing trained");
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
  assert.deepEqual(manifest.inputs.model, { endpoint: { baseUrls: [`${url}/v1`], model: "tiny" } });
  assert.equal(manifest.world, null);
  // A rerun finds the stage done.
  await run("stic-endpoint", { model: served(), images: { folder: images }, stages: [sticStage()] });
});

/** A run that must fail at start: the message, and no stage folder written. */
async function failsAtStart(name: string, doc: Record<string, unknown>, message: RegExp) {
  await assert.rejects(run(name, doc), message);
  assert.ok(!existsSync(join(fx.dir, "runs", name, "stages")), `${name}: no stage started`);
}

test("bad endpoints fail at run start, naming the endpoint and what is missing", async () => {
  const images_ = { folder: images };
  await failsAtStart(
    "wrong-model",
    { model: served({ model: "llava" }), images: images_, stages: [sticStage()] },
    new RegExp(`endpoint ${url}/v1 does not serve model "llava" \\(it serves tiny\\)`),
  );
  await failsAtStart(
    "refused",
    {
      model: { endpoint: { baseUrls: ["http://127.0.0.1:9/v1"], model: "tiny", maxAttempts: 1 } },
      images: images_,
      stages: [sticStage()],
    },
    /endpoint http:\/\/127\.0\.0\.1:9\/v1.*failed/,
  );
  const fakeModel = (apiKeyEnv?: string) => ({
    endpoint: { baseUrls: [`${fakeUrl}/v1`], model: "fake", maxAttempts: 1, ...(apiKeyEnv ? { apiKeyEnv } : {}) },
  });
  await failsAtStart(
    "unauthorized",
    { model: fakeModel(), images: images_, stages: [sticStage()] },
    new RegExp(`endpoint ${fakeUrl}/v1 refused .* as unauthorized`),
  );
  await failsAtStart(
    "key-unset",
    { model: fakeModel("SELFSYNTH_TEST_UNSET_KEY"), images: images_, stages: [sticStage()] },
    /model\.endpoint\.apiKeyEnv: the environment variable SELFSYNTH_TEST_UNSET_KEY is not set/,
  );
  process.env.SELFSYNTH_TEST_KEY = "sesame";
  try {
    await failsAtStart(
      "no-scoring",
      { model: fakeModel("SELFSYNTH_TEST_KEY"), images: images_, stages: [sticStage({ selfCheck: {} })] },
      new RegExp(`teacher-forced scoring \\(prompt_logprobs\\) is not served by endpoint ${fakeUrl}/v1`),
    );
  } finally {
    delete process.env.SELFSYNTH_TEST_KEY;
  }
});

test("bad image folders fail at run start", async () => {
  await failsAtStart(
    "missing-folder",
    { model: served(), images: { folder: join(fx.dir, "nowhere") }, stages: [sticStage()] },
    /image folder .*nowhere does not exist/,
  );
  await failsAtStart(
    "empty-folder",
    { model: served(), images: { folder: join(fx.dir, "no-images") }, stages: [sticStage()] },
    /image folder .*no-images holds no PNG, JPEG or WebP files/,
  );
});
