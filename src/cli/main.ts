#!/usr/bin/env node
// The `selfsynth` command: parses flags and calls the layers below. Only this file exits the process.
import { Command } from "commander";
import { getNumThreads, torchVersion } from "../engine/index.js";
import { registerBuiltinMethods } from "../methods/index.js";
import { registerCompare } from "./commands/compare.js";
import { registerEval } from "./commands/eval.js";
import { registerExport } from "./commands/export.js";
import { registerPretrain } from "./commands/pretrain.js";
import { registerReport } from "./commands/report.js";
import { registerRun } from "./commands/run.js";
import { registerServe } from "./commands/serve.js";
import { registerView } from "./commands/view.js";
import { registerWorld } from "./commands/world.js";
import { nonNegativeInt, positiveInt } from "./options.js";
import { packageRoot } from "./paths.js";

// Before the commands are built: the eval command's flags come from the inference modes.
registerBuiltinMethods();

const program = new Command()
  .name("selfsynth")
  .description("Make vision-language models better with data they synthesize themselves");

program
  .command("info")
  .description("print versions, where libtorch was found, and the thread count")
  .action(async () => {
    const { execFileSync } = await import("node:child_process");
    const { readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const root = packageRoot();
    const found = execFileSync(process.execPath, [join(root, "native", "find-libtorch.cjs"), "describe"], {
      encoding: "utf8",
    });
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    console.log(`selfsynth ${pkg.version}`);
    console.log(`libtorch ${torchVersion()} ${found.trim()}`);
    console.log(`threads ${getNumThreads()}`);
  });

program
  .command("demo")
  .description("train the small VLM on a few procedurally drawn images and sample captions back")
  .option("--steps <n>", "training steps", positiveInt, 150)
  .option("--threads <n>", "libtorch threads", positiveInt, 2)
  .option("--seed <n>", "random seed", nonNegativeInt, 0)
  .option("--out <dir>", "where to write the checkpoint", "runs/demo")
  .action(async (options: { steps: number; threads: number; seed: number; out: string }) => {
    const { runDemo } = await import("./demo.js");
    await runDemo(options);
  });

registerServe(program);

registerWorld(program);

registerPretrain(program);

registerEval(program);

registerExport(program);

registerRun(program);

registerCompare(program);

registerReport(program);

registerView(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`selfsynth: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
