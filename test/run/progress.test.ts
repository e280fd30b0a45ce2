import assert from "node:assert/strict";
import { test } from "node:test";
import {
  formatDuration,
  formatProgressLine,
  formatRate,
  ProgressReporter,
  progressEta,
  progressRate,
  tenthsDone,
} from "../../src/run/progress.js";

test("durations: m:ss, h:mm:ss from an hour, --:-- when unknown", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(9.4), "0:09");
  assert.equal(formatDuration(59.6), "1:00");
  assert.equal(formatDuration(754), "12:34");
  assert.equal(formatDuration(3723), "1:02:03");
  assert.equal(formatDuration(Number.NaN), "--:--");
  assert.equal(formatDuration(Number.POSITIVE_INFINITY), "--:--");
});

test("rates: one decimal, whole numbers from 100, seconds per item below 1", () => {
  assert.equal(formatRate(31.24), "31.2 it/s");
  assert.equal(formatRate(1234.5), "1235 it/s");
  assert.equal(formatRate(0.4), "2.50 s/it");
  assert.equal(formatRate(Number.NaN), "-- it/s");
  assert.equal(formatRate(0), "-- it/s");
  assert.equal(formatRate(12, "img"), "12.0 img/s");
});

test("the rate counts only items done since the start; ETA from the rate", () => {
  // 100 resumed + 125 new in 5 s: 25 it/s; 175 left: 7 s.
  const s = { label: "stage1: pairs", done: 225, total: 400, initial: 100, elapsed: 5 };
  assert.equal(progressRate(s), 25);
  assert.equal(progressEta(s), 7);
  assert.equal(formatProgressLine(s), "stage1: pairs  225/400  25.0 it/s  ETA 0:07");
  // Nothing new yet: rate and ETA unknown.
  assert.equal(formatProgressLine({ ...s, done: 100, elapsed: 3 }), "stage1: pairs  100/400  -- it/s  ETA --:--");
  // Finished: the time taken instead of the ETA. 400 in 13 s = 30.8 it/s.
  assert.equal(
    formatProgressLine({ label: "x", done: 400, total: 400, initial: 0, elapsed: 13 }),
    "x  400/400  30.8 it/s  in 0:13",
  );
  assert.equal(tenthsDone(39, 400), 0);
  assert.equal(tenthsDone(40, 400), 1);
  assert.equal(tenthsDone(0, 0), 10);
});

test("plain logs: a line per tenth, or after 30 s, and one at the end", () => {
  let now = 0;
  const out: string[] = [];
  const reporter = new ProgressReporter({ tty: false, write: (t) => out.push(t), now: () => now });
  const bar = reporter.start("p", 100);
  for (let i = 1; i <= 25; i++) {
    now += 100;
    bar.tick();
  }
  // 10 and 20 crossed a tenth.
  assert.deepEqual(out, ["p  10/100  10.0 it/s  ETA 0:09\n", "p  20/100  10.0 it/s  ETA 0:08\n"]);
  now += 40_000; // a slow item: printed for the time, not a tenth
  bar.tick();
  assert.equal(out.length, 3);
  assert.match(out[2], /^p {2}26\/100 /);
  bar.update(100);
  bar.done(); // 100 was just printed: not again
  assert.equal(out.length, 4);
  assert.match(out[3], /^p {2}100\/100 .* in 0:4\d\n$/);
});

test("terminal: one line redrawn at most every 100 ms; log lines clear and redraw it", () => {
  let now = 0;
  let screen = "";
  const reporter = new ProgressReporter({ tty: true, write: (t) => (screen += t), now: () => now });
  const bar = reporter.start("p", 10);
  const draws = () => screen.split("\r").length - 1;
  assert.equal(draws(), 1);
  now += 10;
  bar.tick(); // within 100 ms of the last draw: not redrawn
  assert.equal(draws(), 1);
  now += 200;
  bar.tick();
  assert.equal(draws(), 2);
  reporter.log("hello");
  assert.ok(screen.endsWith("\r\x1b[Khello\np  2/10  9.5 it/s  ETA 0:01"));
  bar.done();
  assert.ok(screen.endsWith("p  2/10  9.5 it/s  ETA 0:01\n"));
  reporter.log("after");
  assert.ok(screen.endsWith("\nafter\n"));
});
