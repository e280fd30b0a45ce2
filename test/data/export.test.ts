// The exported files' exact shapes on the hand-written two-record dataset of fixtures.ts, and the
// Parquet read back by an independent reader: parquet-wasm (arrow-rs, the Rust implementation of
// Apache Arrow's Parquet reader) decoded with apache-arrow, which gives the Arrow schema pyarrow
// would see.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, mock, test } from "node:test";
import { type Table, tableFromIPC, Vector } from "apache-arrow";
import { Command } from "commander";
import { readParquet } from "parquet-wasm";
import { registerExport } from "../../src/cli/commands/export.js";
import { exportDataset } from "../../src/data/export/index.js";
import { llavaSftSample } from "../../src/data/export/llava.js";
import { toTrlContent } from "../../src/data/export/trl.js";
import { cleanup, readJson, readJsonl, smallDataset, tempDir } from "./fixtures.js";

after(cleanup);

test("toTrlContent: one image part per marker at its place, marker (and its newline) removed", () => {
  assert.deepEqual(toTrlContent("<image>\nDescribe."), [{ type: "image" }, { type: "text", text: "Describe." }]);
  assert.deepEqual(toTrlContent("Left <image> and right <image>?"), [
    { type: "text", text: "Left " },
    { type: "image" },
    { type: "text", text: " and right " },
    { type: "image" },
    { type: "text", text: "?" },
  ]);
  assert.deepEqual(toTrlContent("<image><image>"), [{ type: "image" }, { type: "image" }]);
  assert.deepEqual(toTrlContent("no image"), [{ type: "text", text: "no image" }]);
});

test("trl-jsonl: conversational prompt/chosen/rejected/images and messages/images, images copied", async () => {
  const { root, red, blue, redBytes, blueBytes } = await smallDataset();
  const out = join(tempDir("out"), "trl");
  const result = exportDataset({ data: root, format: "trl-jsonl", out });
  assert.deepEqual(result, {
    out,
    format: "trl-jsonl",
    files: ["sft.jsonl", "preference.jsonl"],
    sft: 1,
    preference: 1,
    images: 2,
  });
  assert.deepEqual(readJsonl(join(out, "sft.jsonl")), [
    {
      messages: [
        { role: "user", content: [{ type: "image" }, { type: "text", text: "Describe the image." }] },
        { role: "assistant", content: [{ type: "text", text: "A red square." }] },
      ],
      images: [red],
    },
  ]);
  assert.deepEqual(readJsonl(join(out, "preference.jsonl")), [
    {
      prompt: [
        {
          role: "user",
          content: [{ type: "text", text: "What colour is " }, { type: "image" }, { type: "text", text: " this?" }],
        },
      ],
      chosen: [{ role: "assistant", content: [{ type: "text", text: "Blue." }] }],
      rejected: [{ role: "assistant", content: [{ type: "text", text: "Green." }] }],
      images: [blue],
    },
  ]);
  assert.deepEqual(new Uint8Array(readFileSync(join(out, red))), redBytes);
  assert.deepEqual(new Uint8Array(readFileSync(join(out, blue))), blueBytes);
  assert.deepEqual(readdirSync(out).sort(), ["images", "preference.jsonl", "sft.jsonl"]);
});

test("llava: {id, image, conversations} with <image>\\n first; preference adds rejected_conversations", async () => {
  const { root, red, blue } = await smallDataset();
  const out = join(tempDir("out"), "llava");
  exportDataset({ data: join(root, "records.jsonl"), format: "llava", out });
  assert.deepEqual(readJson(join(out, "sft.json")), [
    {
      id: "s1",
      image: red,
      conversations: [
        { from: "human", value: "<image>\nDescribe the image." },
        { from: "gpt", value: "A red square." },
      ],
    },
  ]);
  assert.deepEqual(readJson(join(out, "preference.json")), [
    {
      id: "p1",
      image: blue,
      conversations: [
        { from: "human", value: "<image>\nWhat colour is  this?" },
        { from: "gpt", value: "Blue." },
      ],
      rejected_conversations: [
        { from: "human", value: "<image>\nWhat colour is  this?" },
        { from: "gpt", value: "Green." },
      ],
    },
  ]);
  assert.ok(existsSync(join(out, red)) && existsSync(join(out, blue)));
});

test("llamafactory: sharegpt messages with <image> literals, chosen/rejected messages, dataset_info.json", async () => {
  const { root, red, blue } = await smallDataset();
  const out = join(tempDir("out"), "lf");
  exportDataset({ data: root, format: "llamafactory", out, name: "mine" });
  assert.deepEqual(readJson(join(out, "sft.json")), [
    {
      messages: [
        { role: "user", content: "<image>\nDescribe the image." },
        { role: "assistant", content: "A red square." },
      ],
      images: [red],
    },
  ]);
  assert.deepEqual(readJson(join(out, "preference.json")), [
    {
      messages: [{ role: "user", content: "What colour is <image> this?" }],
      chosen: { role: "assistant", content: "Blue." },
      rejected: { role: "assistant", content: "Green." },
      images: [blue],
    },
  ]);
  const tags = { role_tag: "role", content_tag: "content", user_tag: "user", assistant_tag: "assistant" };
  assert.deepEqual(readJson(join(out, "dataset_info.json")), {
    mine_sft: {
      file_name: "sft.json",
      formatting: "sharegpt",
      columns: { messages: "messages", images: "images" },
      tags,
    },
    mine_preference: {
      file_name: "preference.json",
      formatting: "sharegpt",
      ranking: true,
      columns: { messages: "messages", chosen: "chosen", rejected: "rejected", images: "images" },
      tags,
    },
  });
  assert.ok(existsSync(join(out, red)) && existsSync(join(out, blue)));
});

/** Reads a Parquet file with arrow-rs (parquet-wasm) into an apache-arrow Table. */
function readBack(path: string): Table {
  return tableFromIPC(readParquet(new Uint8Array(readFileSync(path))).intoIPCStream());
}

/** A row of an Arrow table as plain values (vectors to arrays, struct rows to objects). */
function plain(value: unknown): unknown {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  if (value instanceof Vector) return Array.from(value, plain);
  const row = value as { toJSON?: () => Record<string, unknown> };
  const fields = typeof row.toJSON === "function" ? row.toJSON() : (value as Record<string, unknown>);
  return Object.fromEntries(Object.entries(fields).map(([k, x]) => [k, plain(x)]));
}

const messagesType = "List<Struct<{role:Utf8, content:List<Struct<{type:Utf8, text:Utf8}>>}>>";
const imagesType = "List<Struct<{bytes:Binary, path:Utf8}>>";

test("trl-parquet: nested columns read back by an independent reader, images embedded, HF features declared", async () => {
  const { root, red, blue, redBytes, blueBytes } = await smallDataset();
  const out = join(tempDir("out"), "pq");
  const result = exportDataset({ data: root, format: "trl-parquet", out });
  assert.deepEqual(result.files, ["sft.parquet", "preference.parquet"]);
  assert.equal(result.images, 0);
  assert.deepEqual(readdirSync(out).sort(), ["preference.parquet", "sft.parquet"]);

  const pref = readBack(join(out, "preference.parquet"));
  assert.deepEqual(
    pref.schema.fields.map((f) => [f.name, String(f.type)]),
    [
      ["prompt", messagesType],
      ["chosen", messagesType],
      ["rejected", messagesType],
      ["images", imagesType],
    ],
  );
  assert.equal(pref.numRows, 1);
  const row = plain(pref.get(0)) as Record<string, unknown>;
  assert.deepEqual(row.prompt, [
    {
      role: "user",
      content: [
        { type: "text", text: "What colour is " },
        { type: "image", text: null },
        { type: "text", text: " this?" },
      ],
    },
  ]);
  assert.deepEqual(row.chosen, [{ role: "assistant", content: [{ type: "text", text: "Blue." }] }]);
  assert.deepEqual(row.rejected, [{ role: "assistant", content: [{ type: "text", text: "Green." }] }]);
  assert.deepEqual(row.images, [{ bytes: blueBytes, path: blue }]);
  // The Hugging Face `datasets` features: `images` is a list of Image, so load_dataset gives PIL images.
  const hf = JSON.parse(pref.schema.metadata.get("huggingface") ?? "null");
  assert.deepEqual(hf.info.features.images, [{ _type: "Image" }]);
  assert.deepEqual(hf.info.features.prompt, [
    {
      role: { dtype: "string", _type: "Value" },
      content: [{ type: { dtype: "string", _type: "Value" }, text: { dtype: "string", _type: "Value" } }],
    },
  ]);
  assert.deepEqual(Object.keys(hf.info.features), ["prompt", "chosen", "rejected", "images"]);

  const sft = readBack(join(out, "sft.parquet"));
  assert.deepEqual(
    sft.schema.fields.map((f) => [f.name, String(f.type)]),
    [
      ["messages", messagesType],
      ["images", imagesType],
    ],
  );
  const srow = plain(sft.get(0)) as Record<string, unknown>;
  assert.deepEqual(srow.messages, [
    {
      role: "user",
      content: [
        { type: "image", text: null },
        { type: "text", text: "Describe the image." },
      ],
    },
    { role: "assistant", content: [{ type: "text", text: "A red square." }] },
  ]);
  assert.deepEqual(srow.images, [{ bytes: redBytes, path: red }]);
});

test("trl-parquet: many rows, multi-turn prompts, several and zero images per row", async () => {
  const { root, red, blue } = await smallDataset();
  const lines: string[] = [];
  for (let i = 0; i < 30; i++) {
    const images = i % 3 === 0 ? [] : i % 3 === 1 ? [red] : [red, blue];
    const markers = images.map(() => "<image>").join(" ");
    lines.push(
      JSON.stringify({
        kind: "preference",
        id: `p${i}`,
        images,
        prompt: [
          { role: "user", content: `${markers} first ${i}` },
          { role: "assistant", content: `answer ${i}` },
          { role: "user", content: `again ${i}` },
        ],
        chosen: `good ${i}`,
        rejected: `bad ${i}`,
        provenance: { method: "bpo", stage: "t", model: "m" },
      }),
    );
  }
  const data = tempDir("many");
  mkdirSync(join(data, "images"));
  for (const p of [red, blue]) writeFileSync(join(data, p), readFileSync(join(root, p)));
  writeFileSync(join(data, "pairs.jsonl"), `${lines.join("\n")}\n`);
  const out = join(tempDir("out"), "pq");
  exportDataset({ data, format: "trl-parquet", out });
  const table = readBack(join(out, "preference.parquet"));
  assert.equal(table.numRows, 30);
  for (let i = 0; i < 30; i++) {
    const row = plain(table.get(i)) as {
      prompt: { content: unknown[] }[];
      images: { path: string }[];
      chosen: unknown;
    };
    assert.equal(row.prompt.length, 3);
    assert.deepEqual(
      row.images.map((x) => x.path),
      i % 3 === 0 ? [] : i % 3 === 1 ? [red] : [red, blue],
    );
    assert.equal(row.prompt[0].content.filter((p) => (p as { type: string }).type === "image").length, i % 3);
    assert.deepEqual(row.prompt[1], { role: "assistant", content: [{ type: "text", text: `answer ${i}` }] });
    assert.deepEqual(row.chosen, [{ role: "assistant", content: [{ type: "text", text: `good ${i}` }] }]);
  }
});

test("export refuses a non-empty out without overwrite, never removes the dataset, and replaces atomically", async () => {
  const { root } = await smallDataset();
  const parent = tempDir("out");
  const out = join(parent, "x");
  mkdirSync(out);
  writeFileSync(join(out, "keep.txt"), "old");
  assert.throws(() => exportDataset({ data: root, format: "llava", out }), /exists and is not empty \(pass --force/);
  assert.equal(readFileSync(join(out, "keep.txt"), "utf8"), "old");
  exportDataset({ data: root, format: "llava", out, overwrite: true });
  assert.deepEqual(readdirSync(out).sort(), ["images", "preference.json", "sft.json"]);
  assert.deepEqual(readdirSync(parent), ["x"], "no temporary folder left");
  assert.throws(
    () => exportDataset({ data: root, format: "llava", out: root, overwrite: true }),
    /contains the dataset root/,
  );
  assert.ok(existsSync(join(root, "records.jsonl")));
  // A bad record fails the export before anything replaces out.
  writeFileSync(join(root, "zz.jsonl"), '{"kind":"sft"}\n');
  assert.throws(
    () => exportDataset({ data: root, format: "trl-jsonl", out, overwrite: true }),
    /zz\.jsonl line 1: invalid record/,
  );
  assert.deepEqual(readdirSync(out).sort(), ["images", "preference.json", "sft.json"]);
  assert.deepEqual(readdirSync(parent), ["x"]);
});

test("selfsynth export: flags, --json result, bad format refused", async () => {
  const { root } = await smallDataset();
  const out = join(tempDir("out"), "cli");
  const lines: string[] = [];
  const program = new Command().exitOverride();
  registerExport(program, (line) => lines.push(line));
  await program.parseAsync(["export", "--data", root, "--format", "trl-jsonl", "--out", out, "--json"], {
    from: "user",
  });
  assert.deepEqual(JSON.parse(lines.at(-1)!), {
    out,
    format: "trl-jsonl",
    files: ["sft.jsonl", "preference.jsonl"],
    sft: 1,
    preference: 1,
    images: 2,
  });
  const err = mock.method(process.stderr, "write", () => true);
  try {
    const bad = new Command().exitOverride();
    registerExport(bad, () => {});
    await assert.rejects(
      bad.parseAsync(["export", "--data", root, "--format", "csv", "--out", out], { from: "user" }),
      /Allowed choices are trl-jsonl, trl-parquet, llava, llamafactory/,
    );
  } finally {
    err.mock.restore();
  }
});

test("llava: a text-only record has no image key; several images keep their markers and list the paths", () => {
  const base = { kind: "sft" as const, provenance: { method: "m", stage: "s", model: "x" } };
  const a = `images/${"a".repeat(64)}.png`;
  const b = `images/${"b".repeat(64)}.jpg`;
  assert.deepEqual(
    llavaSftSample({
      ...base,
      id: "t",
      images: [],
      messages: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Yo" },
      ],
    }),
    {
      id: "t",
      conversations: [
        { from: "human", value: "Hi" },
        { from: "gpt", value: "Yo" },
      ],
    },
  );
  assert.deepEqual(
    llavaSftSample({
      ...base,
      id: "m",
      images: [a, b],
      messages: [
        { role: "user", content: "Compare <image> with <image>." },
        { role: "assistant", content: "Same." },
      ],
    }),
    {
      id: "m",
      image: [a, b],
      conversations: [
        { from: "human", value: "Compare <image> with <image>." },
        { from: "gpt", value: "Same." },
      ],
    },
  );
  // One image in a later turn moves to the front of the first human turn.
  assert.deepEqual(
    llavaSftSample({
      ...base,
      id: "late",
      images: [a],
      messages: [
        { role: "user", content: "Hello." },
        { role: "assistant", content: "Hi." },
        { role: "user", content: "<image>\nAnd this?" },
        { role: "assistant", content: "A cat." },
      ],
    }).conversations.map((t) => t.value),
    ["<image>\nHello.", "Hi.", "And this?", "A cat."],
  );
});
