// What the viewer filters rows by, and what a file offers to filter by (its facets). Rows match
// on their provenance: a reason code (exact, or a prefix of whole `:` segments, so that
// `rejected:corrupted` takes `rejected:corrupted:jitter` and `:downscale`), the method, the
// source item (a substring: ids are long and one looks for a part of them), and a range of one
// named score. Drops match a reason on their reason and a source on their item id; they have no
// method or scores. Error rows match no filter: they have nothing to match on, and every one of
// them shows in the unfiltered listing.
import type { ViewRow } from "./rows.js";

export interface RowFilter {
  reason?: string;
  method?: string;
  source?: string;
  /** The provenance score the range applies to (required with minScore or maxScore). */
  score?: string;
  minScore?: number;
  maxScore?: number;
}

/** A query parameter that cannot be used; the server answers 400 with its message. */
export class BadQueryError extends Error {
  override name = "BadQueryError";
}

/** The filter of a request's query (empty parameters are absent). */
export function parseFilter(query: URLSearchParams): RowFilter {
  const text = (name: string) => {
    const value = query.get(name);
    return value === null || value === "" ? undefined : value;
  };
  const number = (name: string) => {
    const value = text(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n)) throw new BadQueryError(`${name}: expected a number, got ${JSON.stringify(value)}`);
    return n;
  };
  const filter: RowFilter = {
    reason: text("reason"),
    method: text("method"),
    source: text("source"),
    score: text("score"),
    minScore: number("minScore"),
    maxScore: number("maxScore"),
  };
  if ((filter.minScore !== undefined || filter.maxScore !== undefined) && filter.score === undefined) {
    throw new BadQueryError("minScore/maxScore: name the score they apply to with score=NAME");
  }
  if (filter.minScore !== undefined && filter.maxScore !== undefined && filter.minScore > filter.maxScore) {
    throw new BadQueryError(`minScore ${filter.minScore} is above maxScore ${filter.maxScore}`);
  }
  return filter;
}

export function isEmptyFilter(filter: RowFilter): boolean {
  return Object.values(filter).every((v) => v === undefined);
}

/** A stable key of the filter (the cache key of its matches). */
export function filterKey(filter: RowFilter): string {
  return JSON.stringify(Object.entries(filter).filter(([, v]) => v !== undefined));
}

const reasonMatches = (code: string, wanted: string) => code === wanted || code.startsWith(`${wanted}:`);

export function rowMatches(row: ViewRow, filter: RowFilter): boolean {
  if (row.type === "error") return false;
  if (row.type === "drop") {
    if (filter.method !== undefined || filter.score !== undefined) return false;
    if (filter.reason !== undefined && !reasonMatches(row.reason, filter.reason)) return false;
    if (filter.source !== undefined && !row.itemId.includes(filter.source)) return false;
    return true;
  }
  const p = row.provenance;
  if (filter.reason !== undefined && !(p?.reasons ?? []).some((code) => reasonMatches(code, filter.reason!))) {
    return false;
  }
  if (filter.method !== undefined && p?.method !== filter.method) return false;
  if (filter.source !== undefined && !(p?.source ?? "").includes(filter.source)) return false;
  if (filter.score !== undefined) {
    const value = p?.scores?.[filter.score];
    if (value === undefined) return false;
    if (filter.minScore !== undefined && value < filter.minScore) return false;
    if (filter.maxScore !== undefined && value > filter.maxScore) return false;
  }
  return true;
}

/** What a file holds, by row type, and the values its rows can be filtered by, with counts. */
export interface Facets {
  rows: number;
  types: Record<ViewRow["type"], number>;
  /** Every reason code and each of its `:` prefixes, with the rows that carry it. */
  reasons: Record<string, number>;
  methods: Record<string, number>;
  /** Each provenance score's name with its range over the rows. */
  scores: Record<string, { rows: number; min: number; max: number }>;
}

export function emptyFacets(): Facets {
  return { rows: 0, types: { preference: 0, sft: 0, drop: 0, error: 0 }, reasons: {}, methods: {}, scores: {} };
}

export function addToFacets(facets: Facets, row: ViewRow): void {
  facets.rows++;
  facets.types[row.type]++;
  if (row.type === "error") return;
  const codes = row.type === "drop" ? [row.reason] : (row.provenance?.reasons ?? []);
  const prefixes = new Set<string>();
  for (const code of codes) {
    const parts = code.split(":");
    for (let n = 1; n <= parts.length; n++) prefixes.add(parts.slice(0, n).join(":"));
  }
  for (const p of prefixes) facets.reasons[p] = (facets.reasons[p] ?? 0) + 1;
  if (row.type === "drop" || row.provenance === null) return;
  const method = row.provenance.method;
  facets.methods[method] = (facets.methods[method] ?? 0) + 1;
  for (const [name, value] of Object.entries(row.provenance.scores ?? {})) {
    const s = facets.scores[name];
    if (s === undefined) facets.scores[name] = { rows: 1, min: value, max: value };
    else {
      s.rows++;
      s.min = Math.min(s.min, value);
      s.max = Math.max(s.max, value);
    }
  }
}
