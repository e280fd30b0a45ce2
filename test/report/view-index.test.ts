// The viewer's reading side: where entries lie in JSONL files and JSON arrays (across read chunks,
// with brackets and quotes inside strings, cut-short and trailing text), rows of every kind with
// malformed lines as error rows, paging, the filters and facets, re-indexing a file that grew,
// and export folders read back as the records they were written from.
import assert from "node:assert/strict";
import { appendFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type EntryLayout, indexEntries, readEntries } from "../../src/report/view/entries.js";
import { BadQueryError, parseFilter, type RowFilter, rowMatches } from "../../src/report/view/filters.js";
import { RecordsIndex, UnknownFileError } from "../../src/report/view/records-index.js";
import type { PairRow, SftRow, ViewRow } from "../../src/report/view/rows.js";
import { cleanup, tempDir } from "../data/fixtures.js";
import {
  BAD_DROP_LINE,
  BAD_RECORD_LINE,
  DROP_REASONS,
  NOT_JSON_LINE,
  PAIR_LINES,
  PAIRS,
  pair,
  REASONS,
  SFT_SAMPLES,
  type ViewFixture,
  viewFixture,
} from "./view-fixtures.js";

after(cleanup);

let fixture: ViewFixture;
before(async () => {
  fixture = await viewFixture();
});

async function entriesOf(path: string, layout: EntryLayout) {
  const index = await indexEntries(path, layout, statSync(path));
  const all = index.starts.map((_, i) => i);
  return { index, texts: await readEntries(path, index, all) };
}

test("JSONL: an entry per non-blank line with its line number, read back exactly, across 1 MB read chunks", async () => {
  const dir = tempDir("view-entries");
  const path = join(dir, "big.jsonl");
  // ~1.6 MB of lines of varying length (some cross the 1 MB chunk boundary), blank lines between some.
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) lines.push(JSON.stringify({ i, pad: "é".repeat(i % 400) }));
  const withBlanks = lines.flatMap((l, i) => (i % 700 === 0 ? [l, "", "   "] : [l]));
  writeFileSync(path, `${withBlanks.join("\n")}\n`);
  const { index, texts } = await entriesOf(path, "jsonl");
  assert.deepEqual(texts, lines);
  const expectedLines = withBlanks.flatMap((l, i) => (l.trim() === "" ? [] : [i + 1]));
  assert.deepEqual(index.lines, expectedLines);
  assert.equal(index.problems.size, 0);
  // Reading a few scattered entries gives those, in the order asked.
  assert.deepEqual(await readEntries(path, index, [2999, 0, 1500]), [lines[2999], lines[0], lines[1500]]);
});

test("JSONL: a last line without its newline is an entry marked as possibly cut short", async () => {
  const path = join(tempDir("view-entries"), "cut.jsonl");
  writeFileSync(path, '{"a": 1}\n\n{"a": 2');
  const { index, texts } = await entriesOf(path, "jsonl");
  assert.deepEqual(texts, ['{"a": 1}', '{"a": 2']);
  assert.deepEqual(index.lines, [1, 3]);
  assert.match(index.problems.get(1) ?? "", /no newline/);
});

test("JSON array: an entry per element, strings holding brackets, commas and escaped quotes kept whole", async () => {
  const path = join(tempDir("view-entries"), "array.json");
  const elements: unknown[] = [];
  for (let i = 0; i < 4000; i++) {
    elements.push({ id: `x${i}`, text: `a ] b [ c } { , "q" \\ ${"z".repeat(i % 300)}`, list: [1, [2, { n: i }]] });
  }
  elements.push("a string element", 42, [1, 2]);
  const text = JSON.stringify(elements, null, 2); // the LLaVA/LLaMA-Factory exports' layout, > 1 MB
  writeFileSync(path, `${text}\n`);
  const { index, texts } = await entriesOf(path, "json-array");
  assert.deepEqual(
    texts.map((t) => JSON.parse(t)),
    elements,
  );
  // Each entry's line is the line its first byte is on.
  const bytes = Buffer.from(text);
  let line = 1;
  let at = 0;
  const expectedLines = index.starts.map((start) => {
    for (; at < start; at++) if (bytes[at] === 0x0a) line++;
    return line;
  });
  assert.deepEqual(index.lines, expectedLines);
  assert.equal(index.lines[0], 2);
  assert.equal(index.problems.size, 0);
});

test("JSON array: not closed, or text after it, is an error entry; a cut element fails to parse", async () => {
  const dir = tempDir("view-entries");
  const cut = join(dir, "cut.json");
  writeFileSync(cut, '[\n  {"a": 1},\n  {"a": ');
  const one = await entriesOf(cut, "json-array");
  assert.deepEqual(one.texts.slice(0, 2), ['{"a": 1}', '{"a":']);
  assert.equal(one.texts[2], "");
  assert.match(one.index.problems.get(2) ?? "", /not closed/);
  const trailing = join(dir, "trailing.json");
  writeFileSync(trailing, '[{"a": 1}]\n{"b": 2}\n');
  const two = await entriesOf(trailing, "json-array");
  assert.deepEqual(two.texts, ['{"a": 1}', ""]);
  assert.equal(two.index.lines[1], 2);
  assert.match(two.index.problems.get(1) ?? "", /text after the end/);
});

test("pages of pairs.jsonl: rows in file order; the malformed lines are error rows naming file, line and problem", async () => {
  const index = new RecordsIndex(fixture.data);
  const first = await index.page("pairs.jsonl", {}, 0, 10);
  assert.equal(first.format, "records");
  assert.equal(first.entries, PAIR_LINES);
  assert.equal(first.total, PAIR_LINES);
  assert.deepEqual(
    first.rows.map((r) => r.line),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  const row = first.rows[3] as PairRow;
  assert.equal(row.type, "preference");
  assert.equal(row.id, "pair-3");
  assert.equal(row.chosen, "chosen answer 3");
  assert.equal(row.rejected, "rejected answer 3");
  assert.deepEqual(row.prompt, fixture.pairs[3].prompt);
  assert.deepEqual(row.provenance, fixture.pairs[3].provenance);
  assert.deepEqual(row.images, [{ path: fixture.images[0], url: `/files/${fixture.images[0]}` }]);

  const last = await index.page("pairs.jsonl", {}, 20, 10);
  assert.deepEqual(
    last.rows.map((r) => [r.line, r.type]),
    [
      [21, "preference"],
      [22, "preference"],
      [23, "preference"],
      [24, "preference"],
      [25, "preference"],
      [NOT_JSON_LINE, "error"],
      [BAD_RECORD_LINE, "error"],
      [PAIR_LINES, "preference"],
    ],
  );
  const [notJson, badRecord] = last.rows.filter((r) => r.type === "error");
  assert.deepEqual(
    { ...notJson, problem: undefined },
    { type: "error", file: "pairs.jsonl", line: NOT_JSON_LINE, problem: undefined },
  );
  assert.match(notJson.type === "error" ? notJson.problem : "", /^not JSON: /);
  assert.match(badRecord.type === "error" ? badRecord.problem : "", /^invalid record: chosen: .*expected string/);
  // Past the end: no rows, the same totals.
  const beyond = await index.page("pairs.jsonl", {}, 100, 10);
  assert.deepEqual([beyond.rows, beyond.total], [[], PAIR_LINES]);
});

test("SFT samples and drops: their own row types; a malformed drop is an error row", async () => {
  const index = new RecordsIndex(fixture.data);
  const infused = await index.page("infused.jsonl", {}, 0, 100);
  assert.equal(infused.rows.length, SFT_SAMPLES);
  const sample = infused.rows[1] as SftRow;
  assert.equal(sample.type, "sft");
  assert.deepEqual(sample.messages, fixture.samples[1].messages);
  const drops = await index.page("drops.jsonl", {}, 0, 100);
  assert.equal(drops.format, "drops");
  assert.deepEqual(
    drops.rows.map((r) => (r.type === "drop" ? r.reason : r.type)),
    [...DROP_REASONS, "error"],
  );
  const bad = drops.rows[DROP_REASONS.length];
  assert.equal(bad.line, BAD_DROP_LINE);
  assert.match(bad.type === "error" ? bad.problem : "", /^not a drop.*itemId: .*reason: /);
});

/** Every row of a filter, paged through `size` at a time. */
async function allPages(index: RecordsIndex, file: string, filter: RowFilter, size: number): Promise<ViewRow[]> {
  const rows: ViewRow[] = [];
  for (let offset = 0; ; offset += size) {
    const page = await index.page(file, filter, offset, size);
    rows.push(...page.rows);
    if (offset + size >= page.total) {
      assert.equal(rows.length, page.total);
      return rows;
    }
  }
}

const ids = (rows: ViewRow[]) => rows.map((r) => (r.type === "preference" || r.type === "sft" ? r.id : r.type));
const pairIds = (keep: (i: number) => boolean) =>
  Array.from({ length: PAIRS + 1 }, (_, i) => i)
    .filter(keep)
    .map((i) => `pair-${i}`);

test("filters: reason (exact or a prefix of whole segments), method, source substring, a score range; paged", async () => {
  const index = new RecordsIndex(fixture.data);
  const cases: [RowFilter, (i: number) => boolean][] = [
    [{ reason: REASONS[0] }, (i) => i % 3 === 0],
    [{ reason: "rejected:corrupted" }, (i) => i % 3 !== 2],
    [{ reason: "rejected" }, () => true],
    [{ reason: "rejected:corrupt" }, () => false], // not a whole segment
    [{ method: "csr" }, (i) => i % 5 === 4],
    [{ source: "pool-001" }, (i) => i >= 10 && i < 20],
    [{ score: "chosen", minScore: 0.5, maxScore: 1.2 }, (i) => i >= 5 && i <= 12],
    [{ score: "chosen", minScore: 2 }, (i) => i >= 20],
    [{ score: "missing" }, () => false],
    [
      { reason: "rejected:corrupted", method: "stic", score: "chosen", maxScore: 1 },
      (i) => i % 3 !== 2 && i % 5 !== 4 && i <= 10,
    ],
  ];
  for (const [filter, keep] of cases) {
    const rows = await allPages(index, "pairs.jsonl", filter, 4);
    assert.deepEqual(ids(rows), pairIds(keep), JSON.stringify(filter));
    for (const row of rows) assert.ok(rowMatches(row, filter));
  }
  // A later page of a filter holds the next matches, not the file's next entries.
  const second = await index.page("pairs.jsonl", { reason: REASONS[1] }, 3, 3);
  assert.deepEqual(ids(second.rows), ["pair-10", "pair-13", "pair-16"]);
  assert.equal(second.total, 9);
});

test("filters on drops: a reason or an item id; method and score filters match no drop", async () => {
  const index = new RecordsIndex(fixture.data);
  const reasons = async (filter: RowFilter) =>
    (await index.page("drops.jsonl", filter, 0, 100)).rows.map((r) => (r.type === "drop" ? r.itemId : r.type));
  assert.deepEqual(await reasons({ reason: "identical" }), ["pool-d0", "pool-d1"]);
  assert.deepEqual(await reasons({ source: "d2" }), ["pool-d2"]);
  assert.deepEqual(await reasons({ method: "stic" }), []);
});

test("parseFilter: empty parameters are absent; a score range needs its score; bad numbers are refused", () => {
  const q = (s: string) => parseFilter(new URLSearchParams(s));
  assert.deepEqual(q("reason=&method=stic&offset=3"), {
    reason: undefined,
    method: "stic",
    source: undefined,
    score: undefined,
    minScore: undefined,
    maxScore: undefined,
  });
  assert.equal(q("score=chosen&minScore=-1.5").minScore, -1.5);
  assert.throws(
    () => q("minScore=1"),
    (e: Error) => e instanceof BadQueryError && /score=NAME/.test(e.message),
  );
  assert.throws(() => q("score=s&maxScore=abc"), /maxScore: expected a number, got "abc"/);
  assert.throws(() => q("score=s&minScore=2&maxScore=1"), /minScore 2 is above maxScore 1/);
});

test("facets: row types, every reason code and its prefixes, methods, score ranges", async () => {
  const facets = await new RecordsIndex(fixture.data).facets("pairs.jsonl");
  assert.deepEqual(facets.types, { preference: PAIRS + 1, sft: 0, drop: 0, error: 2 });
  assert.equal(facets.rows, PAIR_LINES);
  assert.deepEqual(facets.reasons, {
    rejected: 26,
    "rejected:corrupted": 18,
    "rejected:corrupted:jitter": 9,
    "rejected:corrupted:downscale": 9,
    "rejected:hallucination-prompt": 8,
    "rejected:hallucination-prompt:3": 8,
  });
  assert.deepEqual(facets.methods, { stic: 21, csr: 5 });
  assert.deepEqual(facets.scores, { chosen: { rows: 26, min: 0, max: 2.5 } });
  const drops = await new RecordsIndex(fixture.data).facets("drops.jsonl");
  assert.deepEqual(drops.reasons, { identical: 2, "empty-answer": 1, "image-decode": 1 });
});

test("a file that grew is indexed again; unknown and symlinked files are not record files", async () => {
  const dir = tempDir("view-grow");
  const index = new RecordsIndex(dir);
  const path = join(dir, "pairs.jsonl");
  writeFileSync(path, `${JSON.stringify(pair(0, fixture.images[0]))}\n`);
  assert.equal((await index.page("pairs.jsonl", { method: "stic" }, 0, 10)).total, 1);
  appendFileSync(
    path,
    `${JSON.stringify(pair(1, fixture.images[0]))}\n${JSON.stringify(pair(2, fixture.images[0]))}\n`,
  );
  assert.equal((await index.page("pairs.jsonl", {}, 0, 10)).total, 3);
  assert.equal((await index.page("pairs.jsonl", { method: "stic" }, 0, 10)).total, 3);
  // The image is not in this folder: the row says so instead of linking it.
  const row = (await index.page("pairs.jsonl", {}, 0, 1)).rows[0] as PairRow;
  assert.deepEqual(row.images, [
    { path: fixture.images[0], url: null, problem: `${fixture.images[0]} does not exist in the folder` },
  ]);

  const data = new RecordsIndex(fixture.data);
  assert.deepEqual(
    data.files().map((f) => f.name),
    ["drops.jsonl", "infused.jsonl", "pairs.jsonl"],
  );
  await assert.rejects(data.page("linked.jsonl", {}, 0, 1), UnknownFileError);
  await assert.rejects(data.page("missing.jsonl", {}, 0, 1), /missing\.jsonl: not a record file of /);
});

test("export folders (TRL JSONL, LLaVA, LLaMA-Factory) read back as the records they were exported from", async () => {
  const pairs = fixture.pairs.slice(0, PAIRS);
  for (const [format, out] of Object.entries(fixture.exports)) {
    const index = new RecordsIndex(out);
    const names = index.files().map((f) => f.name);
    assert.deepEqual(
      names,
      format === "trl-jsonl" ? ["preference.jsonl", "sft.jsonl"] : ["preference.json", "sft.json"],
    );
    const preference = await index.page(names[0], {}, 0, 100);
    assert.equal(preference.format, format === "trl-jsonl" ? "trl" : format, format);
    assert.equal(preference.rows.length, PAIRS, format);
    preference.rows.forEach((row, i) => {
      assert.equal(row.type, "preference", `${format} ${JSON.stringify(row)}`);
      const r = row as PairRow;
      const want = pairs[i];
      assert.equal(r.id, format === "llava" ? want.id : null);
      assert.equal(r.chosen, want.chosen);
      assert.equal(r.rejected, want.rejected);
      // Each format places the image marker its own way; the text around it is the record's.
      assert.deepEqual(
        r.prompt.map((t) => [t.role, t.content.replace(/<image>\n?/, "")]),
        want.prompt.map((t) => [t.role, t.content.replace(/<image>\n?/, "")]),
      );
      assert.deepEqual(r.images, [{ path: want.images[0], url: `/files/${want.images[0]}` }]);
      assert.equal(r.provenance, null);
    });
    const sft = await index.page(names[1], {}, 0, 100);
    assert.deepEqual(
      sft.rows.map((r) => (r as SftRow).messages.map((t) => t.content.replace(/<image>\n?/, ""))),
      fixture.samples.map((s) => s.messages.map((t) => t.content.replace(/<image>\n?/, ""))),
    );
  }
});

test("an entry of no known shape in an export is an error row naming the field", async () => {
  const dir = tempDir("view-export-bad");
  writeFileSync(
    join(dir, "preference.json"),
    JSON.stringify(
      [
        { id: "a", conversations: [{ from: "human", value: "hi" }] },
        { id: "b", conversations: "x" },
      ],
      null,
      2,
    ),
  );
  writeFileSync(join(dir, "other.json"), JSON.stringify([{ what: 1 }]));
  const index = new RecordsIndex(dir);
  const rows = (await index.page("preference.json", {}, 0, 10)).rows;
  assert.deepEqual(
    rows.map((r) => [r.type, r.line]),
    [
      ["sft", 2],
      ["error", 11],
    ],
  );
  assert.match(rows[1].type === "error" ? rows[1].problem : "", /^invalid LLaVA row: conversations: /);
  const other = await index.page("other.json", {}, 0, 10);
  assert.equal(other.format, "unknown");
  assert.match(other.rows[0].type === "error" ? other.rows[0].problem : "", /of no known format/);
});
