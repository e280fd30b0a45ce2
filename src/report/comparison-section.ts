// The report's table of every round against the baseline: the rows of `selfsynth compare`
// (src/eval/comparison.ts), shown as that command prints them (4 decimals, signed differences)
// with each row's exact numbers kept in data- attributes, so that a test (or a reader's script)
// can check the page against report.json without parsing rounded text.
import type { Comparison, ComparisonRow } from "../eval/comparison.js";
import { BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED } from "../eval/paired-bootstrap.js";
import { html, type Markup } from "./html.js";

export const fixed = (x: number): string => x.toFixed(4);
export const signed = (x: number): string => `${x >= 0 ? "+" : ""}${x.toFixed(4)}`;
export const intervalText = (ci: readonly [number, number]): string => `[${signed(ci[0])}, ${signed(ci[1])}]`;

/** A row's verdicts counted, for the summary line above the table. */
export function verdictCounts(comparison: Comparison): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of comparison.rows) if (r.verdict !== "baseline") counts[r.verdict] = (counts[r.verdict] ?? 0) + 1;
  return counts;
}

function rowMarkup(r: ComparisonRow, first: { bench: boolean; metric: boolean }, withGap: boolean): Markup {
  const verdict = r.verdict === "baseline" ? "" : r.verdict;
  const gap = r.gapClosed === null || r.gapClosed === undefined ? "" : `${(100 * r.gapClosed).toFixed(0)}%`;
  return html`<tr class="${first.metric ? "group" : ""}" data-round="${r.round}" data-bench="${r.bench}" data-metric="${r.metric}"
    data-mean="${String(r.mean)}" data-diff="${r.diff === null ? "" : String(r.diff)}"
    data-ci-low="${r.ci === null ? "" : String(r.ci[0])}" data-ci-high="${r.ci === null ? "" : String(r.ci[1])}"
    data-verdict="${r.verdict}">
  <td>${first.bench ? r.bench : ""}</td><td>${first.metric ? r.metric : ""}</td><td>${r.round}</td>
  <td class="num">${fixed(r.mean)}</td><td class="num">${r.sd === null ? "-" : fixed(r.sd)}</td>
  <td class="num">${r.diff === null ? "" : signed(r.diff)}</td>
  <td class="num interval">${r.ci === null ? "" : intervalText(r.ci)}</td>
  <td class="verdict ${verdict.replaceAll(" ", "-")}">${verdict}</td>${withGap ? html`<td class="num">${gap}</td>` : ""}
</tr>`;
}

/** The comparison as a table (a section's body), or a note when no round was compared. */
export function comparisonSection(comparison: Comparison | undefined, runs: number): Markup {
  if (comparison === undefined || comparison.rows.length === 0) {
    return html`<p>No round was evaluated.</p>`;
  }
  const withGap = comparison.rows.some((r) => r.gapClosed !== undefined);
  const counts = Object.entries(verdictCounts(comparison)).map(([v, n]) => `${n} ${v}`);
  let previous: ComparisonRow | undefined;
  const rows = comparison.rows.map((r) => {
    const first = {
      bench: previous?.bench !== r.bench,
      metric: previous?.bench !== r.bench || previous?.metric !== r.metric,
    };
    previous = r;
    return rowMarkup(r, first, withGap);
  });
  return html`<p>Verdicts: ${counts.join(", ") || "none"}. <code>diff</code>: mean over ${runs === 1 ? "the run" : `the ${runs} runs`} of
(round − '${comparison.baseline}'); 95% interval: paired bootstrap over the benchmark's items
(${BOOTSTRAP_RESAMPLES.toLocaleString("en")} resamples, seed ${BOOTSTRAP_SEED}); <code>sd</code>: over runs. The figures of <code>selfsynth compare</code>.</p>
<table class="comparison">
<thead><tr><th>bench</th><th>metric</th><th>round</th><th>mean</th><th>sd</th><th>diff</th><th>95% interval</th><th>verdict</th>${
    withGap ? html`<th>gap closed</th>` : ""
  }</tr></thead>
<tbody>${rows}</tbody>
</table>`;
}
