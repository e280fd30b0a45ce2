// The comparison of rounds (src/eval/comparison.ts) as a Markdown table for a README: one row per
// bench metric, one column per round. The baseline's cell holds its mean over runs; every other
// cell the difference to the baseline with its 95% paired interval, in bold when the interval
// excludes zero. `selfsynth compare --markdown` prints it, so a results table in the docs is the
// output of a command rather than hand-copied figures.
//
//   | metric | base | stage |
//   |---|---|---|
//   | pope-random accuracy | 0.500 | **+0.450 [+0.250, +0.675]** |
import type { Comparison, ComparisonRow } from "../eval/comparison.js";

/** A bench metric, as `--metrics` names it: `<bench>.<metric>`. */
export const metricKey = (row: Pick<ComparisonRow, "bench" | "metric">) => `${row.bench}.${row.metric}`;

// A row's decimals follow the size of its means: three for rates and accuracies, fewer for
// counts such as words per description, the same for every cell of the row.
function decimalsOf(rows: readonly ComparisonRow[]): number {
  const size = Math.max(...rows.map((r) => Math.abs(r.mean)));
  return size >= 10 ? 1 : size >= 1.5 ? 2 : 3;
}

function cell(row: ComparisonRow | undefined, decimals: number): string {
  if (row === undefined) return "";
  const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(decimals)}`;
  if (row.diff === null || row.ci === null) return row.mean.toFixed(decimals);
  const text = `${signed(row.diff)} [${signed(row.ci[0])}, ${signed(row.ci[1])}]`;
  return row.verdict === "better" || row.verdict === "worse" || row.verdict === "changed" ? `**${text}**` : text;
}

/**
 * The table's lines. `metrics` picks and orders the rows (`<bench>.<metric>`); without it every
 * bench metric appears in the comparison's order. A named metric the comparison lacks is an error,
 * so a misspelt name does not silently drop a row from a published table.
 */
export function formatComparisonMarkdown(comparison: Comparison, metrics?: readonly string[]): string[] {
  const rounds = [...new Set(comparison.rows.map((r) => r.round))];
  const available = [...new Set(comparison.rows.map(metricKey))];
  const chosen = metrics ?? available;
  const missing = chosen.filter((m) => !available.includes(m));
  if (missing.length > 0) {
    throw new Error(`--metrics: no ${missing.join(", ")} in these runs (they have: ${available.join(", ")})`);
  }
  const lines = [`| metric | ${rounds.join(" | ")} |`, `|${"---|".repeat(rounds.length + 1)}`];
  for (const key of chosen) {
    const rows = comparison.rows.filter((r) => metricKey(r) === key);
    const decimals = decimalsOf(rows);
    const cells = rounds.map((round) =>
      cell(
        rows.find((r) => r.round === round),
        decimals,
      ),
    );
    lines.push(`| ${key.replace(".", " ")} | ${cells.join(" | ")} |`);
  }
  lines.push(
    "",
    `'${comparison.baseline}': mean over runs; other columns: mean difference to '${comparison.baseline}' over runs [95% paired bootstrap interval over items], in bold where the interval excludes zero.`,
  );
  return lines;
}
