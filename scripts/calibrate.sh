#!/usr/bin/env bash
# The calibration measurements (FINDINGS.md: calibrate on the validation split, never on test):
# evaluates one or more models on the VALIDATION split of a built world and prints one JSON line
# per model with the numbers the base is chosen by (POPE random vs adversarial F1 and yes-ratio,
# CHAIR_i, coverage, capability accuracy).
#
#   bash scripts/calibrate.sh runs/cal/base-a runs/cal/base-b ...
#
# Environment: WORLD (default runs/world), LIMIT_POPE (600 items = 100 images), LIMIT_CHAIR (200),
# LIMIT_CAP (400), THREADS (2), OUT (default runs/calibration; per-item records go there).
set -euo pipefail
cd "$(dirname "$0")/.."
WORLD="${WORLD:-runs/world}"
LIMIT_POPE="${LIMIT_POPE:-600}"
LIMIT_CHAIR="${LIMIT_CHAIR:-200}"
LIMIT_CAP="${LIMIT_CAP:-400}"
THREADS="${THREADS:-2}"
OUT="${OUT:-runs/calibration}"

selfsynth() { node --import tsx src/cli/main.ts "$@"; }

for model in "$@"; do
  name="$(echo "$model" | tr '/' '_')"
  lines="$OUT/$name/metrics-lines.jsonl"
  mkdir -p "$OUT/$name"
  : >"$lines"
  for spec in "pope-random:$LIMIT_POPE" "pope-adversarial:$LIMIT_POPE" "chair:$LIMIT_CHAIR" "capabilities:$LIMIT_CAP"; do
    bench="${spec%%:*}"
    limit="${spec##*:}"
    selfsynth eval --model "$model" --bench "$bench" --data "$WORLD" --split validation --limit "$limit" \
      --batch-size 32 --threads "$THREADS" --json --out "$OUT/$name/$bench" | tail -n 1 >>"$lines"
  done
  node -e '
    const fs = require("node:fs");
    const [path, model] = process.argv.slice(1);
    const m = {};
    for (const l of fs.readFileSync(path, "utf8").split("\n").filter((x) => x.trim())) {
      const { bench, metrics } = JSON.parse(l);
      m[bench] = metrics;
    }
    const r = (x) => Math.round(x * 1000) / 1000;
    console.log(JSON.stringify({
      model,
      popeRandomF1: r(m["pope-random"].f1),
      popeAdversarialF1: r(m["pope-adversarial"].f1),
      popeGap: r(m["pope-random"].f1 - m["pope-adversarial"].f1),
      yesRatioRandom: r(m["pope-random"].yes_ratio),
      yesRatioAdversarial: r(m["pope-adversarial"].yes_ratio),
      chairI: r(m.chair.chair_i),
      chairS: r(m.chair.chair_s),
      coverage: r(m.chair.coverage),
      capabilities: r(m.capabilities.accuracy),
    }));
  ' "$lines" "$model"
done
