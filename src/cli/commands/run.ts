// `selfsynth run <recipe> [--out DIR] [--seed N] [--profile NAME[,NAME...]] [--threads N]`: runs (or
// resumes) a recipe (src/run), then prints the run folder and the report's comparison of every round
// with the base round (the table `selfsynth compare <run>` prints: comparison-table.ts).
// Ctrl-C stops at the next step boundary or batch; a rerun picks up from there.
import type { Command } from "commander";
import type { RunDeps, RunOutcome, RunRecipeOptions } from "../../run/index.js";
import { formatComparisonTable } from "../comparison-table.js";
import { nonNegativeInt, positiveInt } from "../options.js";

export interface RunCommandDeps {
  /** Registers stage kinds before the recipe is read (tests: their own; the CLI registers the built-in methods at start). */
  registerKinds?: () => void;
  /** Replaces parts of the runner (tests: a fake model). */
  runner?: Partial<RunDeps>;
  print?: (line: string) => void;
}

interface RunOptions {
  out?: string;
  seed?: number;
  profile?: string;
  threads?: number;
}

export function registerRun(program: Command, deps: RunCommandDeps = {}): Command {
  return program
    .command("run")
    .description(
      "run a recipe (resumable: rerun the same command after a stop); prints every round against the base round",
    )
    .argument("<recipe>", "recipe YAML (see src/run/recipe.ts)")
    .option("--out <dir>", "run folder (default runs/<name>[-<profile>]-seed<seed>)")
    .option("--seed <n>", "override the recipe's seed", nonNegativeInt)
    .option("--profile <names>", "merge the recipe's profiles of these names, comma-separated, in order (e.g. quick)")
    .option("--threads <n>", "override the recipe's libtorch threads", positiveInt)
    .action(async (recipePath: string, options: RunOptions) => {
      const outcome = await runCommand(recipePath, options, deps);
      const print = deps.print ?? console.log;
      print(`run folder: ${outcome.runDir}`);
      for (const line of formatComparisonTable(outcome.report.comparison)) print(line);
    });
}

async function runCommand(recipePath: string, options: RunOptions, deps: RunCommandDeps): Promise<RunOutcome> {
  deps.registerKinds?.();
  const { runRecipe } = await import("../../run/index.js");
  const controller = new AbortController();
  const onSigint = () => {
    process.stderr.write("\nstopping at the next step (Ctrl-C again to quit at once)\n");
    controller.abort(new Error("stopped by Ctrl-C; rerun the same command to resume"));
    process.once("SIGINT", () => process.exit(130));
  };
  process.once("SIGINT", onSigint);
  try {
    const run: RunRecipeOptions = { recipePath, ...options, signal: controller.signal, deps: deps.runner };
    return await runRecipe(run);
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}
