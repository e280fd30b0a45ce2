// Test-only stage kinds, fixtures and fakes for the runner tests (and the child process of the
// kill test, which registers the same kinds).
import { createHash } from "node:crypto";
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import type {
  BackendCapabilities,
  GeneratedSample,
  GenerationParams,
  GenerationRequest,
  ScoreResult,
  VisionLanguageModel,
} from "../../src/backends/types.js";
import { type PopeItem, type PopeSplit, popeBench } from "../../src/eval/pope.js";
import { writeDirAtomic, writeJsonAtomic } from "../../src/run/atomic.js";
import { ProgressReporter } from "../../src/run/progress.js";
import type { RunDeps } from "../../src/run/runner.js";
import { defineStageKind, registerStageKind } from "../../src/run/stage-kind.js";
import { SPLIT_NAMES } from "../../src/world/config.js";

/**
 * Writes `records` numbered records, one per step (`record-<i>`), logging the start and end of each
 * step to `<stage>/exec.log`, then a model: a copy of the input model plus `trained.json`.
 */
export const countRecords = defineStageKind({
  type: "count-records",
  description: "test: numbered records in steps, then a copied model",
  schema: z
    .object({
      records: z.number().int().min(1).default(3),
      sleepMs: z.number().int().min(0).default(0),
      dpo: z
        .object({ beta: z.number().gt(0).default(0.1) })
        .strict()
        .prefault({}),
      splits: z.array(z.enum(SPLIT_NAMES)).default([]),
      trains: z.boolean().default(true),
    })
    .strict(),
  needsSplits: (config) => config.splits,
  async run(ctx, config) {
    const logPath = join(ctx.stageDir, "exec.log");
    const bar = ctx.progress("records", config.records);
    const values: number[] = [];
    for (let i = 0; i < config.records; i++) {
      const value = await ctx.step(`record-${i}`, async () => {
        appendFileSync(logPath, `start ${i}\n`);
        await new Promise((r) => setTimeout(r, config.sleepMs));
        const v = createHash("sha256").update(`${ctx.seed}:${i}:${config.dpo.beta}`).digest().readUInt16BE(0);
        writeJsonAtomic(join(ctx.stageDir, "records", `${i}.json`), { i, v, from: ctx.inputModel.length > 0 });
        appendFileSync(logPath, `end ${i}\n`);
        return v;
      });
      values.push(value);
      bar.tick();
    }
    bar.done();
    const model = join(ctx.stageDir, "model");
    await ctx.step("model", () =>
      writeDirAtomic(model, (tmp) => {
        for (const f of readdirSync(ctx.inputModel)) copyFileSync(join(ctx.inputModel, f), join(tmp, f));
        writeFileSync(join(tmp, "trained.json"), JSON.stringify({ stage: ctx.name, values }));
      }),
    );
    ctx.log(`wrote ${values.length} records`);
    return { model, evaluate: config.trains };
  },
});

export function registerTestKinds(): void {
  registerStageKind(countRecords);
}

export function tmp(prefix = "run-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A fake model folder (one weights file). */
export function fakeModel(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "weights.bin"), "base weights");
  return dir;
}

/** A world config with a handful of images per split (builds in well under a second). */
export function tinyWorldConfig(path: string, seed = 0): string {
  const split = "{ scenes: 3, creatures: 1 }";
  writeFileSync(path, `seed: ${seed}\nsplits:\n${SPLIT_NAMES.map((s) => `  ${s}: ${split}`).join("\n")}\n`);
  return path;
}

const image = { bytes: new Uint8Array([0]), mimeType: "image/png" as const };
/** Four POPE items: two present objects, two absent. */
export const popeItems: PopeItem[] = [
  { id: "a/0", imageId: "a", image, object: "star", label: "yes", question: "Is there a star in the image?" },
  { id: "a/1", imageId: "a", image, object: "heart", label: "no", question: "Is there a heart in the image?" },
  { id: "b/0", imageId: "b", image, object: "cross", label: "yes", question: "Is there a cross in the image?" },
  { id: "b/1", imageId: "b", image, object: "ring", label: "no", question: "Is there a ring in the image?" },
];

/**
 * A model that says "Yes" to everything, unless its folder holds trained.json: then it answers
 * right. Records every call in `calls`.
 */
export class FakeModel implements VisionLanguageModel {
  readonly name: string;
  constructor(
    readonly dir: string,
    readonly calls: string[],
  ) {
    this.name = `fake:${dir}`;
  }
  async capabilities(): Promise<BackendCapabilities> {
    return { maxSamplesPerRequest: 1, generationLogprobs: false, scoring: false, maxImagesPerRequest: 1 };
  }
  async generate(requests: GenerationRequest[], _params?: GenerationParams): Promise<GeneratedSample[][]> {
    const trained = existsSync(join(this.dir, "trained.json"));
    return requests.map((r) => {
      this.calls.push(`${this.dir}:${r.id}`);
      const item = popeItems.find((i) => i.id === r.id);
      const text = trained && item?.label === "no" ? "No." : "Yes.";
      return [{ text, tokens: [], logprobs: null, finishReason: "stop" as const }];
    });
  }
  async score(): Promise<ScoreResult[]> {
    throw new Error("not served");
  }
  async close(): Promise<void> {}
}

/** Runner deps with fakes: models above, POPE items above, no libtorch, output collected in `lines`. */
export function fakeDeps(lines: string[] = [], calls: string[] = []): Partial<RunDeps> {
  return {
    openModel: async (dir) => new FakeModel(dir, calls),
    // A POPE bench of the name asked (the records file is named by the spec, the report by the name).
    loadBench: async (name) => ({
      bench: popeBench(name.startsWith("pope-") ? (name.slice("pope-".length) as PopeSplit) : "random"),
      items: popeItems,
    }),
    engine: async () => ({ torchVersion: () => "test-torch", setNumThreads: () => {} }),
    reporter: new ProgressReporter({ tty: false, write: (t) => lines.push(t) }),
  };
}
