// `selfsynth report RUN... [--out FILE] [--world DIR]`: the report page of run folders of one
// recipe (src/report/build.ts). One run shows its report.json's comparison; several runs (seeds)
// show the comparison across them that `selfsynth compare RUN...` prints (compareRunDirs), and
// their metrics as one band.
import { join } from "node:path";
import type { Command } from "commander";

interface ReportOptions {
  out?: string;
  world?: string;
}

export function registerReport(program: Command, print: (line: string) => void = console.log): Command {
  return program
    .command("report")
    .description("write the HTML report of run folders (self-contained: opens from disk, no network)")
    .argument("<runs...>", "run folders of one recipe (seeds); examples come from the first")
    .option("--out <file>", "the page to write (default <first run>/report.html)")
    .option("--world <dir>", "the world whose scene truth marks object mentions (default: the run's world.dir)")
    .action(async (runs: string[], options: ReportOptions) => {
      const { writeReport } = await import("../../report/build.js");
      const { compareRunDirs } = await import("../../run/compare-runs.js");
      const out = options.out ?? join(runs[0], "report.html");
      const comparison = runs.length > 1 ? compareRunDirs(runs) : undefined;
      writeReport(out, { runDirs: runs, comparison, worldDir: options.world });
      print(out);
    });
}
