// POPE answers per object: for each object word, recall (yes when present) and the false-yes
// rate (yes when absent), from the per-item records an evaluation wrote. A model that learned a
// shortcut from biased training images (the partner is seen, its anchor inferred) shows it here:
// the easy member of a prior pair is recalled, the other barely, on images where the pair is
// broken.
//
//   node --import tsx scripts/pope-by-object.ts runs/calibration/<model>/pope-random/pope-random.records.jsonl [--json]
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const json = args.includes("--json");
const files = args.filter((a) => a !== "--json");
if (files.length !== 1) {
  console.error("usage: pope-by-object.ts <pope records.jsonl> [--json]");
  process.exit(1);
}

interface Counts {
  present: number;
  yesPresent: number;
  absent: number;
  yesAbsent: number;
}
const byObject = new Map<string, Counts>();
readFileSync(files[0], "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .forEach((line, i) => {
    const r = JSON.parse(line) as { parsed_answer: unknown; ground_truth?: { object?: string; label?: string } };
    const object = r.ground_truth?.object;
    const label = r.ground_truth?.label;
    if (object === undefined || (label !== "yes" && label !== "no"))
      throw new Error(`${files[0]}:${i + 1}: not a POPE record (ground_truth.object and .label)`);
    const c = byObject.get(object) ?? { present: 0, yesPresent: 0, absent: 0, yesAbsent: 0 };
    const yes = r.parsed_answer === "yes";
    if (label === "yes") {
      c.present++;
      if (yes) c.yesPresent++;
    } else {
      c.absent++;
      if (yes) c.yesAbsent++;
    }
    byObject.set(object, c);
  });

const rows = [...byObject]
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([object, c]) => ({
    object,
    recall: c.present === 0 ? null : Number((c.yesPresent / c.present).toFixed(3)),
    present: c.present,
    falseYes: c.absent === 0 ? null : Number((c.yesAbsent / c.absent).toFixed(3)),
    absent: c.absent,
  }));
if (json) console.log(JSON.stringify(rows));
else {
  console.log("object      recall (present)   false yes (absent)");
  for (const r of rows)
    console.log(
      `${r.object.padEnd(10)}  ${String(r.recall).padEnd(6)} (${r.present})`.padEnd(30) + `${r.falseYes} (${r.absent})`,
    );
}
