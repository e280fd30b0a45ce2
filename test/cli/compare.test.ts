import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { Command } from "commander";
import { registerCompare } from "../../src/cli/commands/compare.js";
import { popeBench, type YesNo } from "../../src/eval/pope.js";
import { writeRecords } from "../../src/eval/records.js";
import type { EvalRecord } from "../../src/eval/types.js";

const root = mkdtempSync(join(tmpdir(), "compare-cli-"));
after(() => rmSync(root, { recursive: true, force: true }));
const pope = popeBench("adversarial");

// 40 questions: q0-q19 about present objects (yes), q20-q39 about absent ones (no).
const label = (i: number): YesNo => (i < 20 ? "yes" : "no");
function records(yes: (i: number) => boolean): EvalRecord[] {
  return Array.from({ length: 40 }, (_, i) => {
    const truth = { object: "star", label: label(i) };
    const parsed: YesNo = yes(i) ? "yes" : "no";
    return {
      item_id: `q${i}`,
      image_id: `img${i}`,
      prompt: "<image>\nIs there a star in the image?",
      raw_answer: parsed === "yes" ? "Yes." : "No.",
      parsed_answer: parsed,
      ground_truth: truth,
      verdict: pope.verdict(parsed, truth),
      finish_reason: "stop",
    };
  });
}

/** A run folder as the runner leaves it: report.json and per-item records of every round. */
function runFolder(name: string, rounds: [string, (i: number) => boolean][]): string {
  const dir = join(root, name);
  const report = { rounds: [] as { name: string; model: string; metrics: object }[] };
  for (const [round, yes] of rounds) {
    mkdirSync(join(dir, "eval", round), { recursive: true });
    const r = records(yes);
    writeRecords(join(dir, "eval", round, "pope-adversarial.records.jsonl"), r);
    report.rounds.push({ name: round, model: `m-${round}`, metrics: { "pope-adversarial": pope.metrics(r as never) } });
  }
  writeFileSync(join(dir, "report.json"), JSON.stringify(report));
  return dir;
}

// The base says yes to everything; stage s1 says no to 16 (seed 0) or 14 (seed 1) absent objects.
const seed0 = runFolder("seed0", [
  ["base", () => true],
  ["s1", (i) => i < 24],
]);
const seed1 = runFolder("seed1", [
  ["base", () => true],
  ["s1", (i) => i < 26],
]);
const oracle = runFolder("oracle", [
  ["base", () => true],
  ["s1", (i) => i < 20],
]);

async function compare(args: string[]): Promise<string[]> {
  const printed: string[] = [];
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  registerCompare(program, (line) => printed.push(line));
  await program.parseAsync(["compare", ...args], { from: "user" });
  return printed;
}

test("compare --json: the last line holds the baseline and one row per round, bench and metric", async () => {
  const out = await compare([seed0, seed1, "--json"]);
  const json = JSON.parse(out.at(-1)!);
  assert.deepEqual(Object.keys(json), ["baseline", "rows"]);
  assert.equal(json.baseline, "base");
  assert.equal(json.rows.length, 2 * 5);
  for (const row of json.rows) {
    assert.deepEqual(Object.keys(row), ["round", "bench", "metric", "mean", "sd", "diff", "ci", "verdict"]);
  }
  const accuracy = json.rows.find(
    (r: { round: string; metric: string }) => r.round === "s1" && r.metric === "accuracy",
  );
  // Accuracy 36/40 and 34/40 from 20/40: mean 0.875, SD sqrt(2·0.025²), difference 0.375; no item got worse.
  assert.ok(Math.abs(accuracy.mean - 0.875) < 1e-12);
  assert.ok(Math.abs(accuracy.sd - Math.sqrt(2 * 0.025 ** 2)) < 1e-12);
  assert.ok(Math.abs(accuracy.diff - 0.375) < 1e-12);
  assert.ok(accuracy.ci[0] > 0);
  assert.equal(accuracy.verdict, "better");
  // Seeded: the same command gives the same line; another --seed other intervals.
  assert.deepEqual(await compare([seed0, seed1, "--json"]), out);
  assert.notDeepEqual(await compare([seed0, seed1, "--json", "--seed", "3"]), out);
});

test("compare --ceiling adds the share of the gap closed; the table names runs and the ceiling", async () => {
  const rows = JSON.parse((await compare([seed0, seed1, "--ceiling", oracle, "--json"])).at(-1)!).rows;
  const accuracy = rows.find((r: { round: string; metric: string }) => r.round === "s1" && r.metric === "accuracy");
  // Ceiling accuracy 1: (0.875 − 0.5) / (1 − 0.5).
  assert.ok(Math.abs(accuracy.gapClosed - 0.75) < 1e-12);
  const table = await compare([seed0, seed1, "--ceiling", oracle]);
  assert.equal(table[0], `2 runs: ${seed0}, ${seed1}`);
  assert.equal(table[1], `ceiling: the last round of ${oracle}`);
  assert.match(table[2], /^bench +metric +round +mean +sd +diff +95% interval +verdict +gap closed$/);
  assert.match(table[3], /^pope-adversarial +accuracy +base +0\.5000 +0\.0000$/);
  assert.match(table[4], /^ +s1 +0\.8750 +0\.0354 +\+0\.3750 +\[\+0\.\d{4}, \+0\.\d{4}\] +better +75%$/);
});

test("compare --markdown: a row per chosen metric, the baseline's mean, bold differences whose interval excludes zero", async () => {
  // One run: s1 says no to 16 absent objects, s2 to one only (q39), a change no interval can tell from zero.
  const run = runFolder("markdown", [
    ["base", () => true],
    ["s1", (i) => i < 24],
    ["s2", (i) => i < 39],
  ]);
  const lines = await compare([run, "--markdown", "--metrics", "pope-adversarial.accuracy,pope-adversarial.yes_ratio"]);
  assert.equal(lines[0], "| metric | base | s1 | s2 |");
  assert.equal(lines[1], "|---|---|---|---|");
  // Accuracy 0.5 → 0.9 in s1 (+0.4, every resample positive) and 0.525 in s2 (+0.025, some resamples 0).
  assert.match(
    lines[2],
    /^\| pope-adversarial accuracy \| 0\.500 \| \*\*\+0\.400 \[\+0\.\d{3}, \+0\.\d{3}\]\*\* \| \+0\.025 \[\+0\.000, \+0\.\d{3}\] \|$/,
  );
  // The yes-ratio has no better direction: a change whose interval excludes zero is still bold.
  assert.match(
    lines[3],
    /^\| pope-adversarial yes_ratio \| 1\.000 \| \*\*-0\.400 \[-0\.\d{3}, -0\.\d{3}\]\*\* \| -0\.025 /,
  );
  assert.equal(lines.length, 6);
  assert.match(lines[5], /^'base': mean over runs; other columns: mean difference/);
  // Without --metrics every bench metric, in the comparison's order.
  assert.equal((await compare([run, "--markdown"])).length, 2 + 5 + 2);
  await assert.rejects(
    compare([run, "--markdown", "--metrics", "pope-adversarial.acuracy"]),
    /--metrics: no pope-adversarial\.acuracy in these runs/,
  );
  await assert.rejects(compare([run, "--metrics", "pope-adversarial.accuracy"]), /--metrics needs --markdown/);
});

test("compare: bad run folders are errors naming the folder and the problem", async () => {
  const empty = join(root, "empty");
  mkdirSync(empty);
  await assert.rejects(compare([empty]), /empty: no report\.json \(not a run folder/);
  const noRecords = runFolder("no-records", [["base", () => true]]);
  rmSync(join(noRecords, "eval", "base", "pope-adversarial.records.jsonl"));
  await assert.rejects(
    compare([noRecords]),
    /no-records: round 'base' reports bench 'pope-adversarial' but its per-item records .* are missing/,
  );
  const baseOnly = runFolder("base-only", [["base", () => true]]);
  await assert.rejects(compare([seed0, baseOnly]), /base-only: lacks round\(s\) s1 that .*seed0 has/);
  await assert.rejects(compare([seed0, seed0]), /run .*seed0 is given twice/);
  await assert.rejects(compare([seed0, "--baseline", "start"]), /seed0: no round 'start' to compare with/);
});

/** Writes the config.resolved.json --join reads: the recipe's name, the profile and the seed. */
function identify(dir: string, profile: string | null, seed: number): string {
  writeFileSync(join(dir, "config.resolved.json"), JSON.stringify({ name: "stic", profile, seed, stages: [] }));
  return dir;
}

test("compare --join pairs the rounds of two profiles' runs, seed by seed, on the shared base", async () => {
  // Default profile: s1 says no to 16 / 14 absent objects (seed0, seed1 above); the ablation to
  // 10 at both seeds (i < 30). By hand: ablation − default = (30 − 36) / 40 = −0.15 at seed 0,
  // (30 − 34) / 40 = −0.1 at seed 1; pooled mean −0.125; no item is right in the ablation and
  // wrong in the default, so every resample's difference is negative.
  const profiles = [identify(seed0, null, 0), identify(seed1, null, 1)];
  const ablation = [0, 1].map((seed) =>
    identify(
      runFolder(`ablation${seed}`, [
        ["base", () => true],
        ["s1", (i) => i < 30],
      ]),
      "no-negatives",
      seed,
    ),
  );
  const rows = JSON.parse(
    (await compare([...profiles, ...ablation, "--join", "--baseline", "stic:s1", "--json"])).at(-1)!,
  ).rows;
  assert.deepEqual(
    [...new Set(rows.map((r: { round: string }) => r.round))],
    ["base", "stic:s1", "stic-no-negatives:s1"],
  );
  const accuracy = rows.find(
    (r: { round: string; metric: string }) => r.round === "stic-no-negatives:s1" && r.metric === "accuracy",
  );
  assert.ok(Math.abs(accuracy.diff + 0.125) < 1e-12);
  assert.ok(accuracy.ci[1] < 0);
  assert.equal(accuracy.verdict, "worse");
  // Without the identity file the run cannot be labelled.
  const anonymous = runFolder("anonymous", [["base", () => true]]);
  await assert.rejects(compare([seed0, anonymous, "--join"]), /anonymous: no config\.resolved\.json/);
});

test("the installed command line: selfsynth compare ... --json", async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "compare", seed0, seed1, "--json", "--resamples", "200"],
    { cwd: join(import.meta.dirname, "..", ".."), env: { ...process.env, OMP_NUM_THREADS: "1" } },
  );
  const json = JSON.parse(stdout.trim().split("\n").at(-1)!);
  assert.equal(json.baseline, "base");
  assert.equal(json.rows.length, 10);
});
