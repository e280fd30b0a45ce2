// The report page's frame: one self-contained HTML document (styles, the plotting libraries,
// the charts' specs and the images all inline; no network). Charts are placeholders holding their
// Vega-Lite spec as JSON; a small script renders each with vega-embed as SVG and marks it
// `data-rendered="true"` (or `"error"`, with the error on the console), and marks the body
// `data-charts="done"` when all have settled, which is what the browser tests wait for.
import type { VegaLiteSpec } from "./charts.js";
import { html, inlineScript, type Markup, raw, scriptJson } from "./html.js";
import { vegaSources } from "./vega-scripts.js";

/** Numbers charts in the order the page places them. */
export class ChartIds {
  #next = 0;
  chart(spec: VegaLiteSpec, title: string): Markup {
    const id = `chart-${this.#next++}`;
    return html`<figure class="chart-box"><figcaption>${title}</figcaption><div class="chart" id="${id}"></div>
<script type="application/json" id="${id}-spec">${scriptJson(spec)}</script></figure>`;
  }
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 16px 48px; color: #222; }
h1 { font-size: 22px; margin: 20px 0 4px; } h2 { border-bottom: 1px solid #ccc; margin-top: 32px; }
nav a { margin-right: 12px; } code, pre { font-size: 12px; } pre { overflow-x: auto; background: #f6f6f6; padding: 8px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 2px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.comparison tr.group td { border-top: 1px solid #ddd; }
.verdict.better { color: #166534; font-weight: 600; } .verdict.worse { color: #b91c1c; font-weight: 600; }
.verdict.changed { color: #92400e; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; } figure { margin: 8px 0; } figcaption { font-weight: 600; }
.example { display: flex; gap: 12px; border-top: 1px solid #eee; padding: 8px 0; }
.example-image { width: 128px; height: 128px; image-rendering: pixelated; flex: none; border: 1px solid #ccc; }
.no-image { width: 128px; flex: none; color: #888; }
.example .body { flex: 1; } .example h4 { margin: 0; font-family: monospace; font-weight: normal; color: #555; }
.prompt, .truth { color: #444; margin: 2px 0; } .sides { display: flex; gap: 16px; }
.side, .turn { flex: 1; } .side h5, .turn h5 { margin: 4px 0; } .side.right h5 { color: #166534; } .side.wrong h5 { color: #b91c1c; }
.count { font-weight: normal; color: #666; }
mark.present { background: #bbf7d0; } mark.hallucinated { background: #fecaca; text-decoration: line-through; }
mark.unknown { background: none; text-decoration: underline dotted; }
.tags { margin-top: 4px; } .tag { display: inline-block; border-radius: 3px; padding: 0 5px; margin: 0 4px 2px 0; background: #eee; font-size: 12px; }
.tag.kept { background: #dcfce7; } .tag.dropped { background: #fee2e2; }
.legend mark { padding: 0 3px; }
`;

/** Renders every chart of the page; kept short and dependency-free besides vega-embed. */
const EMBED = `
(function () {
  var charts = Array.prototype.slice.call(document.querySelectorAll(".chart"));
  Promise.all(charts.map(function (el) {
    var spec = JSON.parse(document.getElementById(el.id + "-spec").textContent);
    return vegaEmbed(el, spec, { mode: "vega-lite", renderer: "svg", actions: false })
      .then(function () { el.setAttribute("data-rendered", "true"); })
      .catch(function (error) { el.setAttribute("data-rendered", "error"); console.error("chart " + el.id + ": " + error); });
  })).then(function () { document.body.setAttribute("data-charts", "done"); });
})();
`;

export interface PageParts {
  title: string;
  subtitle: Markup;
  sections: { id: string; title: string; body: Markup }[];
}

export function renderPage(parts: PageParts): string {
  const nav = parts.sections.map((s) => html`<a href="#${s.id}">${s.title}</a>`);
  const sections = parts.sections.map((s) => html`<section id="${s.id}"><h2>${s.title}</h2>${s.body}</section>`);
  const page = html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${parts.title}</title><style>${raw(STYLE)}</style></head>
<body><h1>${parts.title}</h1><p>${parts.subtitle}</p><nav>${nav}</nav>
${sections}
${vegaSources().map(inlineScript)}
${inlineScript(EMBED)}
</body></html>
`;
  return page.text;
}
