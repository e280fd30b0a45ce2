// `selfsynth compare RUN... [--baseline ROUND] [--ceiling RUN] [--join] [--json | --markdown [--metrics LIST]]`: the rounds of
// runs of one recipe (seeds), or with --join of several recipes or profiles, against a baseline round, from their per-item records (src/run/compare-runs.ts,
// src/eval/comparison.ts): per bench metric and round, the mean and sample SD over runs, the mean
// difference to the baseline with its 95% paired bootstrap interval over items, and a verdict.
// With --json the last line is {"baseline": ..., "rows": [{round, bench, metric, mean, sd, diff,
// ci, verdict[, gapClosed]}]}; with --markdown a README table (src/cli/comparison-markdown.ts).
import type { Command } from "commander";
import { BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED } from "../../eval/paired-bootstrap.js";
import { compareRunDirs } from "../../run/compare-runs.js";
import { formatComparisonMarkdown } from "../comparison-markdown.js";
import { formatComparisonTable } from "../comparison-table.js";
import { nonNegativeInt, positiveInt } from "../options.js";

interface CompareOptions {
  baseline: string;
  ceiling?: string;
  json?: boolean;
  join?: boolean;
  markdown?: boolean;
  metrics?: string[];
  resamples: number;
  seed: number;
}

export function registerCompare(program: Command, print: (line: string) => void = console.log): Command {
  return program
    .command("compare")
    .description(
      "compare the rounds of runs (seeds) with a baseline round: mean and SD over runs, the difference with a paired bootstrap 95% interval, a verdict",
    )
    .argument("<runs...>", "run folders (each with report.json and eval/<round>/<bench>.records.jsonl)")
    .option("--baseline <round>", "the round every other round is compared with", "base")
    .option(
      "--ceiling <run>",
      "a run whose last round is the ceiling: adds the share of the base-to-ceiling gap closed",
    )
    .option(
      "--join",
      "runs of several recipes or profiles (the same seeds, the same starting model): each seed's runs joined, rounds named <recipe>[-<profile>]:<round> beside the shared base",
    )
    .option("--json", "print {baseline, rows} as JSON on the last line")
    .option("--markdown", "print a Markdown table: a row per bench metric, a column per round")
    .option(
      "--metrics <list>",
      "with --markdown, the rows and their order: comma-separated <bench>.<metric> (e.g. chair.chair_i,pope-adversarial.f1)",
      (list: string) =>
        list
          .split(",")
          .map((m) => m.trim())
          .filter((m) => m !== ""),
    )
    .option("--resamples <n>", "bootstrap resamples", positiveInt, BOOTSTRAP_RESAMPLES)
    .option("--seed <n>", "the bootstrap's seed", nonNegativeInt, BOOTSTRAP_SEED)
    .action((runs: string[], options: CompareOptions) => {
      if (options.metrics !== undefined && options.markdown !== true) throw new Error("--metrics needs --markdown");
      if (options.json === true && options.markdown === true) throw new Error("--json and --markdown: choose one");
      const comparison = compareRunDirs(runs, options);
      if (options.json === true) {
        print(JSON.stringify(comparison));
        return;
      }
      if (options.markdown === true) {
        for (const line of formatComparisonMarkdown(comparison, options.metrics)) print(line);
        return;
      }
      print(`${runs.length} run${runs.length === 1 ? "" : "s"}: ${runs.join(", ")}`);
      if (options.ceiling !== undefined) print(`ceiling: the last round of ${options.ceiling}`);
      for (const line of formatComparisonTable(comparison)) print(line);
    });
}
