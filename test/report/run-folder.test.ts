// The report over a run without SceneWorld (its images are the user's: no `world:` in the resolved
// recipe) and with a step that returned nothing (no `result` in its file): the page is built, and
// says that mentions are unmarked. (The full page in a browser: report.test.ts.)
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { buildReport } from "../../src/report/build.js";
import { readRunFolder } from "../../src/report/run-folder.js";

const dir = mkdtempSync(join(tmpdir(), "selfsynth-report-folder-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a run over the user's images, with a step that returned nothing, gets its report page", () => {
  const json = (path: string, value: unknown) => writeFileSync(join(dir, path), JSON.stringify(value));
  json("report.json", { rounds: [] });
  json("config.resolved.json", {
    name: "served",
    profile: null,
    seed: 0,
    threads: 1,
    images: { folder: "pics" },
    model: { endpoint: { baseUrls: ["http://127.0.0.1:8000/v1"], model: "tiny" } },
    eval: { benches: [], split: "test", batchSize: 16 },
    stages: [{ name: "s1", type: "stic-preferences" }],
  });
  mkdirSync(join(dir, "stages", "s1", "steps"), { recursive: true });
  json("stages/s1/steps/void.json", { step: "void", seconds: 0.5 });
  json("stages/s1/stage.json", { seconds: 2, finishedAt: "2026-01-01T00:00:00.000Z" });
  const run = readRunFolder(dir);
  assert.equal(run.config.world, undefined);
  assert.deepEqual(run.stages[0].steps, [{ step: "void", seconds: 0.5 }]);
  const page = buildReport({ runDirs: [dir] });
  assert.match(
    page,
    /No world \(the run's images are the user's\): mentions are <mark class="unknown">unmarked<\/mark>/,
  );
});
