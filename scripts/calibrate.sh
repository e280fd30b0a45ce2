#!/usr/bin/env bash
# The calibration measurements (FINDINGS.md: calibrate on the validation split, never on test):
# evaluates one or more models on the VALIDATION split of a built world and prints one JSON line
# per model with the numbers the base is chosen by (scripts/calibration-summary.ts): POPE random
# and adversarial accuracy, F1 and yes-ratio, the share of adversarial false "yes" answers that
# are a present anchor's prior partner; CHAIR_i, CHAIR_s, coverage, mean length, the share of
# descriptions cut by the token limit, the partner share of hallucinations on prior-breaking
# images; capability accuracy; the species benchmark.
#
#   bash scripts/calibrate.sh runs/cal/base-a runs/cal/base-b ...
#
# Environment: WORLD (default runs/world), LIMIT_POPE (600 items = 100 images), LIMIT_CHAIR (200),
# LIMIT_CAP (400), LIMIT_SPECIES (200), CHAIR_MAX_TOKENS (256, the bench's own default: long
# enough that descriptions end by themselves), THREADS (2), OUT (default
# runs/calibration; per-item records go there).
set -euo pipefail
cd "$(dirname "$0")/.."
WORLD="${WORLD:-runs/world}"
LIMIT_POPE="${LIMIT_POPE:-600}"
LIMIT_CHAIR="${LIMIT_CHAIR:-200}"
LIMIT_CAP="${LIMIT_CAP:-400}"
LIMIT_SPECIES="${LIMIT_SPECIES:-200}"
CHAIR_MAX_TOKENS="${CHAIR_MAX_TOKENS:-256}"
THREADS="${THREADS:-2}"
OUT="${OUT:-runs/calibration}"

selfsynth() { node --import tsx src/cli/main.ts "$@"; }

for model in "$@"; do
  name="$(echo "$model" | tr '/' '_')"
  mkdir -p "$OUT/$name"
  for spec in "pope-random:$LIMIT_POPE" "pope-adversarial:$LIMIT_POPE" "chair:$LIMIT_CHAIR" "capabilities:$LIMIT_CAP" \
    "species:$LIMIT_SPECIES"; do
    bench="${spec%%:*}"
    limit="${spec##*:}"
    extra=()
    [ "$bench" = chair ] && extra=(--max-tokens "$CHAIR_MAX_TOKENS")
    selfsynth eval --model "$model" --bench "$bench" --data "$WORLD" --split validation --limit "$limit" \
      --batch-size 32 --threads "$THREADS" --json --out "$OUT/$name/$bench" "${extra[@]}" >/dev/null
  done
  node --import tsx scripts/calibration-summary.ts --dir "$OUT/$name" --world "$WORLD" --model "$model"
done
