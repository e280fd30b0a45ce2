// The comparison of rounds (src/eval/comparison.ts) as a terminal table, one line per bench,
// metric and round; `selfsynth compare` and the end of `selfsynth run` print it.
//
//   bench        metric    round   mean    sd      diff     95% interval        verdict
//   pope-random  accuracy  base    0.5000  0.0000
//                          stage   0.9500  0.0707  +0.4500  [+0.2500, +0.6750]  better
import type { Comparison } from "../eval/comparison.js";

const fixed = (x: number) => x.toFixed(4);
const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(4)}`;

export function formatComparisonTable(comparison: Comparison | undefined): string[] {
  if (comparison === undefined || comparison.rows.length === 0) return ["(no rounds evaluated)"];
  const withGap = comparison.rows.some((r) => r.gapClosed !== undefined);
  const header = ["bench", "metric", "round", "mean", "sd", "diff", "95% interval", "verdict"];
  if (withGap) header.push("gap closed");
  const lines: string[][] = [header];
  let previous: (typeof comparison.rows)[number] | undefined;
  for (const r of comparison.rows) {
    // A bench's name once per bench, a metric's once per group of rounds.
    const sameBench = previous?.bench === r.bench;
    const cells = [
      sameBench ? "" : r.bench,
      sameBench && previous?.metric === r.metric ? "" : r.metric,
      r.round,
      fixed(r.mean),
      r.sd === null ? "-" : fixed(r.sd),
      r.diff === null ? "" : signed(r.diff),
      r.ci === null ? "" : `[${signed(r.ci[0])}, ${signed(r.ci[1])}]`,
      r.verdict === "baseline" ? "" : r.verdict,
    ];
    if (withGap)
      cells.push(r.gapClosed === null || r.gapClosed === undefined ? "" : `${(100 * r.gapClosed).toFixed(0)}%`);
    lines.push(cells);
    previous = r;
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  const numeric = new Set(["mean", "sd", "diff", "gap closed"]);
  const table = lines.map((l) =>
    l
      .map((cell, c) => (numeric.has(header[c]) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join("  ")
      .trimEnd(),
  );
  return [
    ...table,
    `(diff: mean over runs of round − '${comparison.baseline}'; 95% paired bootstrap interval over items; sd over runs)`,
  ];
}
