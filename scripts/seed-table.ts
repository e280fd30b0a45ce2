// Mean and spread of report metrics over runs (seeds): the table README's STIC results come from.
//   node --import tsx scripts/seed-table.ts runs/stic-seed0 runs/stic-seed1 runs/stic-seed2 [--json]
// Prints one row per bench metric and one column per round: mean ± sample standard deviation
// over the runs given (each run's report.json), with the number of runs.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const METRICS: [string, string][] = [
  ["pope-random", "f1"],
  ["pope-popular", "f1"],
  ["pope-adversarial", "f1"],
  ["pope-adversarial", "yes_ratio"],
  ["chair", "chair_i"],
  ["chair", "chair_s"],
  ["chair", "coverage"],
  ["capabilities", "accuracy"],
  ["species", "accuracy"],
];

interface Report {
  rounds: { name: string; metrics: Record<string, Record<string, unknown>> }[];
}

const args = process.argv.slice(2);
const json = args.includes("--json");
const runs = args.filter((a) => a !== "--json");
if (runs.length === 0) {
  console.error("usage: seed-table.ts <run dir>... [--json]");
  process.exit(1);
}
const reports = runs.map((dir) => JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as Report);
const rounds = reports[0].rounds.map((r) => r.name);

function stats(values: number[]): { mean: number; std: number; n: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

const table: Record<string, Record<string, ReturnType<typeof stats>>> = {};
for (const [bench, metric] of METRICS) {
  const row: Record<string, ReturnType<typeof stats>> = {};
  for (const round of rounds) {
    const values = reports.flatMap((rep) => {
      const v = rep.rounds.find((r) => r.name === round)?.metrics[bench]?.[metric];
      return typeof v === "number" ? [v] : [];
    });
    if (values.length) row[round] = stats(values);
  }
  if (Object.keys(row).length) table[`${bench} ${metric}`] = row;
}

if (json) {
  console.log(JSON.stringify({ runs, table }));
} else {
  console.log(`| metric | ${rounds.join(" | ")} |`);
  console.log(`|---|${rounds.map(() => "---").join("|")}|`);
  for (const [name, row] of Object.entries(table)) {
    const cells = rounds.map((r) => (row[r] ? `${row[r].mean.toFixed(3)} ± ${row[r].std.toFixed(3)}` : ""));
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
  console.log(`\n(${runs.length} runs: ${runs.join(", ")}; mean ± sample std)`);
}
