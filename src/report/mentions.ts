// Object mentions marked in a text, each as present or hallucinated against a scene's objects:
// the mentions CHAIR counts (the same synonym table and matching: src/eval/chair.ts), placed at
// the characters they span so that the page can highlight them where they stand.
import { type SynonymTable, wordTokenSpans } from "../eval/text.js";
import { html, type Markup } from "./html.js";

/** present: the scene holds it; hallucinated: it does not; unknown: no scene truth for this image. */
export type MentionStatus = "present" | "hallucinated" | "unknown";

export interface TextPiece {
  text: string;
  /** Set on the pieces that are object mentions. */
  mention?: { canonical: string; status: MentionStatus };
}

export interface MarkedText {
  pieces: TextPiece[];
  mentions: number;
  hallucinated: number;
}

/**
 * The text cut into plain pieces and mentions. `objects` are the scene's objects (canonical or
 * synonyms); undefined when there is no truth, and every mention is then `unknown`.
 */
export function markMentions(text: string, table: SynonymTable, objects: readonly string[] | undefined): MarkedText {
  // Offsets index the lower-cased text; where lower-casing changed the length (rare non-ASCII
  // letters) the lower-cased text is what is shown, so that marks stay on their words.
  const lower = text.toLowerCase();
  const shown = lower.length === text.length ? text : lower;
  const spans = wordTokenSpans(text);
  const found = table.findMentionsInTokens(spans.map((s) => s.token));
  const present = objects === undefined ? undefined : new Set(objects.map((o) => table.canonical(o) ?? o));
  const pieces: TextPiece[] = [];
  let at = 0;
  let hallucinated = 0;
  for (const m of found) {
    const start = spans[m.index].start;
    const end = spans[m.index + m.length - 1].end;
    if (start > at) pieces.push({ text: shown.slice(at, start) });
    const status: MentionStatus =
      present === undefined ? "unknown" : present.has(m.canonical) ? "present" : "hallucinated";
    if (status === "hallucinated") hallucinated++;
    pieces.push({ text: shown.slice(start, end), mention: { canonical: m.canonical, status } });
    at = end;
  }
  if (at < shown.length) pieces.push({ text: shown.slice(at) });
  return { pieces, mentions: found.length, hallucinated };
}

/** The marked text as HTML: each mention a `<mark>` whose class is its status, the object in its title. */
export function renderMarked(marked: MarkedText): Markup {
  return html`${marked.pieces.map((p) =>
    p.mention === undefined
      ? html`${p.text}`
      : html`<mark class="${p.mention.status}" title="${p.mention.canonical}: ${p.mention.status}">${p.text}</mark>`,
  )}`;
}
