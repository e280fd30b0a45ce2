import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Command } from "commander";
import { registerRun } from "../../src/cli/commands/run.js";
import { formatComparisonTable } from "../../src/cli/comparison-table.js";
import { fakeDeps, fakeModel, registerTestKinds, tinyWorldConfig, tmp } from "./kinds.js";

test("the comparison table: a line per bench, metric and round; diff, interval and verdict off the baseline", () => {
  const table = formatComparisonTable({
    baseline: "base",
    rows: [
      {
        round: "base",
        bench: "chair",
        metric: "chair_i",
        mean: 0.25,
        sd: 0.01,
        diff: null,
        ci: null,
        verdict: "baseline",
      },
      {
        round: "stic-stage1",
        bench: "chair",
        metric: "chair_i",
        mean: 0.125,
        sd: 0.02,
        diff: -0.125,
        ci: [-0.2, -0.05],
        verdict: "better",
      },
      {
        round: "base",
        bench: "chair",
        metric: "mean_length",
        mean: 90,
        sd: null,
        diff: null,
        ci: null,
        verdict: "baseline",
      },
      {
        round: "stic-stage1",
        bench: "chair",
        metric: "mean_length",
        mean: 88.5,
        sd: null,
        diff: -1.5,
        ci: [-3, 0.5],
        verdict: "no detectable difference",
      },
    ],
  });
  assert.deepEqual(table, [
    "bench  metric       round           mean      sd     diff  95% interval        verdict",
    "chair  chair_i      base          0.2500  0.0100",
    "                    stic-stage1   0.1250  0.0200  -0.1250  [-0.2000, -0.0500]  better",
    "       mean_length  base         90.0000       -",
    "                    stic-stage1  88.5000       -  -1.5000  [-3.0000, +0.5000]  no detectable difference",
    "(diff: mean over runs of round − 'base'; 95% paired bootstrap interval over items; sd over runs)",
  ]);
  assert.deepEqual(formatComparisonTable(undefined), ["(no rounds evaluated)"]);
});

test("selfsynth run <recipe> --out --profile --seed runs the recipe and prints the folder and the table", async () => {
  const dir = tmp("run-cli-");
  const recipe = join(dir, "r.yaml");
  writeFileSync(
    recipe,
    `name: c
world: { config: ${tinyWorldConfig(join(dir, "w.yaml"))}, dir: ${join(dir, "world")} }
model: ${fakeModel(join(dir, "base"))}
eval: { benches: [pope-random] }
profiles: { quick: { stages: [{ name: s1, records: 1 }] } }
stages: [{ name: s1, type: count-records }]
`,
  );
  const printed: string[] = [];
  const program = new Command().exitOverride();
  registerRun(program, { registerKinds: registerTestKinds, runner: fakeDeps(), print: (l) => printed.push(l) });
  const out = join(dir, "out");
  await program.parseAsync(["run", recipe, "--out", out, "--profile", "quick", "--seed", "4", "--threads", "1"], {
    from: "user",
  });
  // The base says yes to all 4 questions (2 present objects, 2 absent), s1 answers right: the
  // report's comparison of s1 with the base, as the table prints it.
  const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
  assert.deepEqual(printed, [`run folder: ${out}`, ...formatComparisonTable(report.comparison)]);
  assert.match(printed[1], /^bench +metric +round +mean +sd +diff +95% interval +verdict$/);
  assert.match(printed[2], /^pope-random +accuracy +base +0\.5000 +-$/);
  assert.match(
    printed[3],
    /^ +s1 +1\.0000 +- +\+0\.5000 +\[\+0\.\d{4}, \+1\.0000\] +(better|no detectable difference)$/,
  );
  assert.match(
    printed.join("\n"),
    /recall +base +1\.0000 +-\n +s1 +1\.0000 +- +\+0\.0000 +\[\+0\.0000, \+0\.0000\] +no detectable difference/,
  );

  const bad = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  registerRun(bad, { registerKinds: registerTestKinds, runner: fakeDeps() });
  await assert.rejects(bad.parseAsync(["run", recipe, "--seed", "-1"], { from: "user" }), /expected an integer >= 0/);
  await assert.rejects(
    program.parseAsync(["run", recipe, "--out", out, "--profile", "slow"], { from: "user" }),
    /profile 'slow' not found; profiles: quick/,
  );
});
