import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Command } from "commander";
import { formatReportTable, registerRun } from "../../src/cli/commands/run.js";
import { fakeDeps, fakeModel, registerTestKinds, tinyWorldConfig, tmp } from "./kinds.js";

test("the report table: a row per bench metric, a column per round; breakdowns left to report.json", () => {
  const table = formatReportTable({
    rounds: [
      { name: "base", model: "m", metrics: { chair: { chair_i: 0.25, by_k: { "1": 0.5 } }, pope: { f1: 0.5 } } },
      { name: "stic-stage1", model: "m2", metrics: { chair: { chair_i: 0.125 } } },
    ],
  });
  assert.deepEqual(table, [
    "metric           base  stic-stage1",
    "chair chair_i  0.2500       0.1250",
    "pope f1        0.5000            -",
  ]);
  assert.deepEqual(formatReportTable({ rounds: [] }), ["(no rounds evaluated)"]);
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
  assert.deepEqual(printed, [
    `run folder: ${out}`,
    "metric                   base      s1",
    "pope-random accuracy   0.5000  1.0000",
    "pope-random precision  0.5000  1.0000",
    "pope-random recall     1.0000  1.0000",
    "pope-random f1         0.6667  1.0000",
    "pope-random yes_ratio  1.0000  0.5000",
  ]);

  const bad = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  registerRun(bad, { registerKinds: registerTestKinds, runner: fakeDeps() });
  await assert.rejects(bad.parseAsync(["run", recipe, "--seed", "-1"], { from: "user" }), /expected an integer >= 0/);
  await assert.rejects(
    program.parseAsync(["run", recipe, "--out", out, "--profile", "slow"], { from: "user" }),
    /profile 'slow' not found; profiles: quick/,
  );
});
