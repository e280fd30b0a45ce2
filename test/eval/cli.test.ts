import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mock, test } from "node:test";
import { Command } from "commander";
import { registerEval } from "../../src/cli/commands/eval.js";
import { type PopeItem, popeBench } from "../../src/eval/pope.js";
import { registerBuiltinMethods } from "../../src/methods/index.js";
import { FakeBackend } from "./fake-backend.js";

registerBuiltinMethods();

const image = { bytes: new Uint8Array([0]), mimeType: "image/png" as const };
const items: PopeItem[] = [
  { id: "a/0", imageId: "a", image, object: "star", label: "yes", question: "Is there a star in the image?" },
  { id: "a/1", imageId: "a", image, object: "heart", label: "no", question: "Is there a heart in the image?" },
  { id: "b/0", imageId: "b", image, object: "cross", label: "yes", question: "Is there a cross in the image?" },
];

test("selfsynth eval --json prints {bench, metrics} last and stores the settings", async () => {
  const dir = mkdtempSync(join(tmpdir(), "eval-cli-"));
  const log = mock.method(console, "log", () => {});
  try {
    const backend = new FakeBackend({ "a/0": "Yes.", "a/1": "No.", "b/0": "Yes" });
    const loaded: string[] = [];
    const program = new Command().exitOverride();
    registerEval(program, {
      openModel: async (spec) => {
        loaded.push(JSON.stringify(spec));
        return backend;
      },
      loadBench: async (source) => {
        loaded.push(JSON.stringify(source));
        return { bench: popeBench("random"), items };
      },
    });
    await program.parseAsync(
      [
        "eval",
        "--model",
        "m/",
        "--bench",
        "pope-random",
        "--limit",
        "2",
        "--json",
        "--out",
        dir,
        "--temperature",
        "0.5",
      ],
      { from: "user" },
    );
    assert.deepEqual(loaded, [
      JSON.stringify({ kind: "world", name: "pope-random", split: "test" }),
      JSON.stringify({ kind: "embedded", modelDir: "m/" }),
    ]);
    assert.ok(backend.closed);
    const lines = log.mock.calls.map((c) => String(c.arguments[0]));
    // a/0 TP, a/1 TN → accuracy 1, precision 1, recall 1, F1 1, yes_ratio 1/2.
    assert.deepEqual(JSON.parse(lines.at(-1)!), {
      bench: "pope-random",
      metrics: { accuracy: 1, precision: 1, recall: 1, f1: 1, yes_ratio: 0.5 },
    });
    const stored = JSON.parse(readFileSync(join(dir, "pope-random.json"), "utf8"));
    assert.equal(stored.generation.temperature, 0.5);
    assert.equal(stored.n, 2);
  } finally {
    log.mock.restore();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("selfsynth eval refuses an unknown bench, and a missing world directory with the build command", async () => {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  registerEval(program);
  await assert.rejects(
    program.parseAsync(["eval", "--model", "m", "--bench", "nope"], { from: "user" }),
    /Allowed choices are pope-random/,
  );
  const wired = new Command().exitOverride();
  registerEval(wired);
  await assert.rejects(
    wired.parseAsync(["eval", "--model", "m", "--bench", "chair"], { from: "user" }),
    /no world data; pass --data <dir> of a built world \(selfsynth world build/,
  );
});

test("selfsynth eval --describe-first asks for a description, then answers with it prefixed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "eval-cli-"));
  const log = mock.method(console, "log", () => {});
  try {
    const backend = new FakeBackend({
      "a/0/describe": "a red star.",
      "a/1/describe": "a red star.",
      "a/0": "Yes.",
      "a/1": "No.",
    });
    const program = new Command().exitOverride();
    registerEval(program, {
      openModel: async () => backend,
      loadBench: async () => ({ bench: popeBench("random"), items }),
    });
    await program.parseAsync(
      ["eval", "--model", "m/", "--bench", "pope-random", "--limit", "2", "--out", dir, "--describe-first"],
      { from: "user" },
    );
    const prompts = backend.calls.flatMap((c) => c.requests.map((r) => r.messages.at(-1)!.content));
    // One describe call (the two items share image "a" but are described per request id or once
    // per image: either way every answer request carries the description).
    const answers = backend.calls.flatMap((c) => c.requests).filter((r) => !r.id!.endsWith("/describe"));
    assert.equal(answers.length, 2);
    for (const r of answers) assert.match(r.messages.at(-1)!.content, /Image description:\na red star\.\n\nIs there/);
    assert.ok(
      prompts.some((p) => p === "<image>\nDescribe this image in detail."),
      prompts.join(" | "),
    );
    assert.ok(backend.closed);
  } finally {
    log.mock.restore();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("selfsynth eval --endpoint asks the world benches through an OpenAI-compatible server", async () => {
  const dir = mkdtempSync(join(tmpdir(), "eval-cli-"));
  const log = mock.method(console, "log", () => {});
  try {
    const opened: unknown[] = [];
    const program = new Command().exitOverride();
    registerEval(program, {
      openModel: async (spec) => {
        opened.push(spec);
        return new FakeBackend({ "a/0": "Yes.", "a/1": "No.", "b/0": "No" });
      },
      loadBench: async () => ({ bench: popeBench("random"), items }),
    });
    const endpoint = ["--endpoint", "http://gpu:8000/v1", "--served-model", "llava"];
    await program.parseAsync(["eval", ...endpoint, "--bench", "pope-random", "--data", "w", "--out", dir, "--json"], {
      from: "user",
    });
    assert.deepEqual(opened, [{ kind: "openai", baseUrls: ["http://gpu:8000/v1"], model: "llava" }]);
    // a/0 TP, a/1 TN, b/0 FN → accuracy 2/3, precision 1, recall 1/2, F1 2/3, yes_ratio 1/3.
    const last = JSON.parse(String(log.mock.calls.at(-1)?.arguments[0]));
    assert.deepEqual(last.metrics, { accuracy: 2 / 3, precision: 1, recall: 1 / 2, f1: 2 / 3, yes_ratio: 1 / 3 });
  } finally {
    log.mock.restore();
    rmSync(dir, { recursive: true, force: true });
  }
});
