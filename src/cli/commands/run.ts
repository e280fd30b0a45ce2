// `selfsynth run <recipe> [--out DIR] [--seed N] [--profile NAME[,NAME...]] [--threads N]
// [--continue-with URL [--continue-model NAME] [--continue-api-key-env VAR]]`: runs (or resumes) a
// recipe (src/run), then prints the run folder and the report's comparison of every round with the
// base round (the table `selfsynth compare <run>` prints: comparison-table.ts).
// Ctrl-C stops at the next step boundary or batch; a rerun picks up from there.
// A run over a served model stops at a stage that trains, waiting for the trained model (the
// stage's export/TRAIN.md says how to train and serve it): it prints the waiting message and exits
// with code 3 (WAITING_EXIT_CODE; 0 = finished, 1 = error); --continue-with gives the served
// trained model and the run goes on.
import type { Command } from "commander";
import type { RunDeps, RunOutcome, RunRecipeOptions } from "../../run/index.js";
import { WAITING_EXIT_CODE } from "../../run/waiting.js";
import { formatComparisonTable } from "../comparison-table.js";
import { nonNegativeInt, positiveInt } from "../options.js";

export interface RunCommandDeps {
  /** Registers stage kinds before the recipe is read (tests: their own; the CLI registers the built-in methods at start). */
  registerKinds?: () => void;
  /** Replaces parts of the runner (tests: a fake model). */
  runner?: Partial<RunDeps>;
  print?: (line: string) => void;
  /** Sets the process's exit code (default: process.exitCode); tests capture it. */
  setExitCode?: (code: number) => void;
}

interface RunOptions {
  out?: string;
  seed?: number;
  profile?: string;
  threads?: number;
  continueWith?: string;
  continueModel?: string;
  continueApiKeyEnv?: string;
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
    .option(
      "--continue-with <url>",
      "a run waiting for a stage's trained model: that model, served (OpenAI-compatible base URL, e.g. http://host:8000/v1); the run records it as the stage's model and goes on",
    )
    .option(
      "--continue-model <name>",
      "the name the --continue-with server serves it as (default: the only model it lists)",
    )
    .option("--continue-api-key-env <var>", "the environment variable holding the --continue-with server's API key")
    .addHelpText(
      "after",
      `\nExit codes: 0 finished; ${WAITING_EXIT_CODE} waiting for a stage's trained model (a stage that trains a served model: train it with the stage's export/TRAIN.md, serve it, rerun with --continue-with); 1 an error.`,
    )
    .action(async (recipePath: string, options: RunOptions) => {
      if (options.continueWith === undefined && (options.continueModel ?? options.continueApiKeyEnv) !== undefined)
        throw new Error("--continue-model and --continue-api-key-env go with --continue-with URL");
      const outcome = await runCommand(recipePath, options, deps);
      const print = deps.print ?? console.log;
      print(`run folder: ${outcome.runDir}`);
      for (const line of formatComparisonTable(outcome.report.comparison)) print(line);
      if (outcome.waiting !== undefined) {
        print(outcome.waiting.message);
        (deps.setExitCode ?? ((code) => (process.exitCode = code)))(WAITING_EXIT_CODE);
      }
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
    const { continueWith, continueModel, continueApiKeyEnv, ...rest } = options;
    const run: RunRecipeOptions = {
      recipePath,
      ...rest,
      ...(continueWith === undefined
        ? {}
        : {
            continueWith: {
              baseUrl: continueWith,
              ...(continueModel === undefined ? {} : { model: continueModel }),
              ...(continueApiKeyEnv === undefined ? {} : { apiKeyEnv: continueApiKeyEnv }),
            },
          }),
      signal: controller.signal,
      deps: deps.runner,
    };
    return await runRecipe(run);
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}
