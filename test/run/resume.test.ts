// A run killed with SIGKILL in the middle of a stage resumes on rerun: finished stages are skipped,
// finished steps are not run again, and the outputs equal those of a run never interrupted.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { hashFiles } from "../../src/run/atomic.js";
import { runRecipe } from "../../src/run/runner.js";
import { fakeDeps, fakeModel, registerTestKinds, tinyWorldConfig, tmp } from "./kinds.js";

registerTestKinds();

const root = fileURLToPath(new URL("../..", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function count(text: string, line: string): number {
  return text.split("\n").filter((l) => l === line).length;
}

/** The files a stage produced, by hash (step files hold timings, so they are left out). */
function outputs(runDir: string, stage: string): Record<string, string> {
  const files = hashFiles(join(runDir, "stages", stage));
  return Object.fromEntries(Object.entries(files).filter(([f]) => f.startsWith("records/") || f.startsWith("model/")));
}

test("SIGKILL mid-stage, then rerun: same outputs as an uninterrupted run, no finished step run twice", async () => {
  const dir = tmp("resume-");
  const model = fakeModel(join(dir, "base"));
  const world = tinyWorldConfig(join(dir, "world.yaml"));
  const recipe = join(dir, "r.yaml");
  writeFileSync(
    recipe,
    `name: k
world: { config: ${world}, dir: ${join(dir, "world")} }
model: ${model}
eval: { benches: [] }
stages:
  - { name: s1, type: count-records, records: 2 }
  - { name: s2, type: count-records, records: 6, sleepMs: 150 }
`,
  );
  const killed = join(dir, "killed");
  const child = spawn(process.execPath, ["--import", "tsx", "test/run/child-run.ts", recipe, killed], {
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
  const marker = join(killed, "stages", "s2", "steps", "record-1.json");
  for (let waited = 0; !existsSync(marker); waited += 10) {
    if (child.exitCode !== null) assert.fail(`the child ended before the kill: ${stderr}`);
    if (waited > 60_000) assert.fail(`timed out waiting for ${marker}: ${stderr}`);
    await sleep(10);
  }
  child.kill("SIGKILL");
  assert.equal(await exited, "SIGKILL");

  // Killed inside s2: s1 finished, s2 not.
  assert.ok(existsSync(join(killed, "stages", "s1", "stage.json")));
  assert.ok(!existsSync(join(killed, "stages", "s2", "stage.json")));
  const stepsAtKill = readdirSync(join(killed, "stages", "s2", "steps")).filter((f) => f.endsWith(".json"));
  const s1Log = readFileSync(join(killed, "stages", "s1", "exec.log"), "utf8");

  await runRecipe({ recipePath: recipe, out: killed, deps: fakeDeps() });

  // s1 was not run again; in s2 every step ended once, and a step finished before the kill never restarted.
  assert.equal(readFileSync(join(killed, "stages", "s1", "exec.log"), "utf8"), s1Log);
  const s2Log = readFileSync(join(killed, "stages", "s2", "exec.log"), "utf8");
  for (let i = 0; i < 6; i++) {
    assert.equal(count(s2Log, `end ${i}`), 1, `step ${i} ended once`);
    if (stepsAtKill.includes(`record-${i}.json`)) assert.equal(count(s2Log, `start ${i}`), 1, `step ${i} not rerun`);
  }
  assert.ok(stepsAtKill.length >= 2 && stepsAtKill.length < 7);

  // An uninterrupted run in another folder gives the same outputs.
  const clean = join(dir, "clean");
  await runRecipe({ recipePath: recipe, out: clean, deps: fakeDeps() });
  for (const stage of ["s1", "s2"]) {
    const got = outputs(killed, stage);
    assert.ok(Object.keys(got).length > 0);
    assert.deepEqual(got, outputs(clean, stage));
  }
  const manifest = (d: string) => JSON.parse(readFileSync(join(d, "manifest.json"), "utf8"));
  assert.deepEqual(
    manifest(killed).stages.s2.files["model/trained.json"],
    manifest(clean).stages.s2.files["model/trained.json"],
  );
  assert.ok(!readdirSync(join(killed, "stages", "s2")).some((f) => f.includes(".tmp-")));
});
