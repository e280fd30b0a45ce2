// HTML built with one rule: every interpolated value is escaped unless it is markup this module
// made (a `Markup`). Record texts (model answers, prompts, ids, file names) come from models and
// files, so nothing reaches the page without passing through escapeHtml.
//
//   html`<td title="${record.id}">${answer}</td>`   escapes both
//   html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`   arrays of Markup are joined

/** Markup this module produced (or trusted text marked with `raw`): inserted as is. */
export class Markup {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text safe inside element content and inside quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** Trusted markup (generated here, never record text). */
export const raw = (text: string): Markup => new Markup(text);

type Interpolated = Markup | string | number | boolean | null | undefined | readonly Interpolated[];

function render(value: Interpolated): string {
  if (value instanceof Markup) return value.text;
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === null || value === undefined || value === false) return "";
  return escapeHtml(String(value));
}

/** A template whose interpolations are escaped (Markup and arrays of it excepted). */
export function html(strings: TemplateStringsArray, ...values: Interpolated[]): Markup {
  let out = strings[0];
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1];
  });
  return new Markup(out);
}

/**
 * JSON inside a `<script>` element: `<` is written as \u003c so that no text in the data (a
 * model answer containing `</script>` or `<!--`) can end the element early. U+2028 and U+2029
 * are escaped too (line terminators inside JavaScript string literals in older engines).
 */
export function scriptJson(value: unknown): Markup {
  return raw(
    JSON.stringify(value)
      .replace(/</g, "\\u003c")
      .replace(/\u2028/g, "\\u2028")
      .replace(/\u2029/g, "\\u2029"),
  );
}

/**
 * A library's source inlined in a `<script>` element. A minified bundle may hold the text
 * `</script` inside a string; the HTML parser would end the element there, so it is split.
 */
export function inlineScript(source: string): Markup {
  return raw(`<script>${source.replace(/<\/script/gi, "<\\/script")}</script>`);
}
