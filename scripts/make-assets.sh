#!/usr/bin/env bash
# The reproducible pipeline behind the shipped models (DESIGN.md, SceneWorld: shipped checkpoints):
#
#   1. build the world (every split) from assets/world/default.yaml into runs/world (not committed);
#   2. pretrain assets/vision (the image tower, supervised on the scene graphs), a language model
#      (the decoder on a prior-following text corpus, runs/pretrain/language-model, not shipped),
#      assets/aligned (from the language model, captions, the tower frozen), assets/base
#      (instruction tuning from aligned, the tower frozen) and assets/scorer (CLIP-style,
#      contrastive, its image tower started from assets/vision), each with its train-info.json
#      and metrics.jsonl;
#      training checkpoints go to runs/pretrain/<stage> (resumable, not committed);
#   3. evaluate assets/base on every benchmark and collect the results in assets/base-metrics.json.
#
# Budget (2 cores, measured 2026-12-04 stage by stage for the shipped files, with other work
# niced beside some stages): world 3 min, vision 13, language about 20 (on one thread), aligned
# 17, base 39 (4,000 steps), scorer 11, then about 6 minutes evaluating the base on the full
# test split (STAGE_DEFAULTS in src/train/pretrain/common.ts hold the step counts). The
# calibration behind the choices: README, "Toward a base that sees".
#
# Environment:
#   QUICK=1      a minutes-long smoke version (small world, tiny step counts, --limit on evals)
#                into a temporary directory (or OUT=<dir>); the shipped assets are not touched
#   THREADS=n    libtorch threads (default 2)
#   SEED=n       training seed (default 0)
#   RESUME=1     continue interrupted stages from their checkpoints instead of starting afresh
#   SKIP_EVAL=1  stop after training
#   EVAL_ONLY=1  no training: build (or reuse) the world, then evaluate the existing assets/base
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK="${QUICK:-0}"
THREADS="${THREADS:-2}"
SEED="${SEED:-0}"
RESUME="${RESUME:-0}"
SKIP_EVAL="${SKIP_EVAL:-0}"
EVAL_ONLY="${EVAL_ONLY:-0}"
BENCHES=(pope-random pope-popular pope-adversarial chair capabilities species)

# The CLI from source (tsx), so the pipeline needs no build step.
selfsynth() { node --import tsx src/cli/main.ts "$@"; }

if [ "$QUICK" = "1" ]; then
  OUT="${OUT:-$(mktemp -d -t selfsynth-assets-XXXXXX)}"
  WORLD="$OUT/world"
  ASSETS="$OUT/assets"
  WORK="$OUT/work"
  EVAL_OUT="$OUT/eval"
  CONFIG="$OUT/world-quick.yaml"
  mkdir -p "$OUT"
  # The default world with small splits: every setting but the sizes stays the shipped one.
  {
    sed '/^splits:/,$d' assets/world/default.yaml
    cat <<'EOF'
splits:
  pretraining: { scenes: 400, creatures: 100, biased: true, priorBreakingShare: 0 }
  instruction: { scenes: 200, creatures: 50, biased: true, priorBreakingShare: 0 }
  pool: { scenes: 50, creatures: 20, biased: true, priorBreakingShare: 0 }
  validation: { scenes: 50, creatures: 20, biased: false, priorBreakingShare: 0.5 }
  test: { scenes: 100, creatures: 40, biased: false, priorBreakingShare: 0.5 }
EOF
  } >"$CONFIG"
  VISION_ARGS=(--steps 40 --batch-size 32 --save-every 20)
  LANGUAGE_ARGS=(--steps 40 --batch-size 16 --save-every 20 --corpus-scenes 400 --corpus-creatures 40)
  ALIGNED_ARGS=(--steps 40 --batch-size 16 --save-every 20)
  BASE_ARGS=(--steps 40 --batch-size 16 --save-every 20)
  SCORER_ARGS=(--steps 40 --batch-size 64 --save-every 20)
  EVAL_ARGS=(--limit 40)
else
  WORLD=runs/world
  ASSETS=assets
  WORK=runs/pretrain
  EVAL_OUT=runs/eval/base
  CONFIG=assets/world/default.yaml
  VISION_ARGS=()
  LANGUAGE_ARGS=()
  ALIGNED_ARGS=()
  BASE_ARGS=()
  SCORER_ARGS=()
  EVAL_ARGS=()
fi
COMMON=(--world "$WORLD" --threads "$THREADS" --seed "$SEED")
[ "$RESUME" = "1" ] && COMMON+=(--resume)

stamp() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

timed() {
  local name="$1"
  shift
  local t0=$SECONDS
  stamp "$name: $*"
  "$@"
  stamp "$name: done in $((SECONDS - t0)) s"
}

# A stage starts afresh unless RESUME=1: its old checkpoints would otherwise be resumed.
fresh() { [ "$RESUME" = "1" ] || rm -rf "$WORK/$1"; }

timed world selfsynth world build --config "$CONFIG" --out "$WORLD"

if [ "$EVAL_ONLY" != "1" ]; then
  fresh vision
  timed vision selfsynth pretrain vision "${COMMON[@]}" --out "$ASSETS/vision" --work-dir "$WORK/vision" \
    "${VISION_ARGS[@]}"
  fresh language
  timed language selfsynth pretrain language "${COMMON[@]}" --out "$WORK/language-model" \
    --work-dir "$WORK/language" "${LANGUAGE_ARGS[@]}"
  fresh aligned
  timed aligned selfsynth pretrain aligned "${COMMON[@]}" --from "$WORK/language-model" --vision-from "$ASSETS/vision" \
    --out "$ASSETS/aligned" --work-dir "$WORK/aligned" "${ALIGNED_ARGS[@]}"
  fresh base
  timed base selfsynth pretrain base "${COMMON[@]}" --from "$ASSETS/aligned" --out "$ASSETS/base" \
    --work-dir "$WORK/base" "${BASE_ARGS[@]}"
  fresh scorer
  timed scorer selfsynth pretrain scorer "${COMMON[@]}" --vision-from "$ASSETS/vision" --out "$ASSETS/scorer" \
    --work-dir "$WORK/scorer" "${SCORER_ARGS[@]}"
fi

du -sh "$ASSETS/vision" "$ASSETS/aligned" "$ASSETS/base" "$ASSETS/scorer"

if [ "$SKIP_EVAL" = "1" ]; then
  stamp "SKIP_EVAL=1: no evaluation"
  exit 0
fi

# Each eval prints its metrics as JSON on its last line: {"bench": ..., "metrics": {...}}.
mkdir -p "$EVAL_OUT"
lines="$EVAL_OUT/metrics-lines.jsonl"
: >"$lines"
for bench in "${BENCHES[@]}"; do
  timed "eval $bench" selfsynth eval --model "$ASSETS/base" --bench "$bench" --data "$WORLD" --json --batch-size 32 --threads "$THREADS" \
    --out "$EVAL_OUT/$bench" "${EVAL_ARGS[@]}" >"$EVAL_OUT/$bench.stdout"
  tail -n 1 "$EVAL_OUT/$bench.stdout" | tee -a "$lines"
done
node -e '
  const fs = require("node:fs");
  const [linesPath, out, model, world] = process.argv.slice(1);
  const benches = {};
  for (const line of fs.readFileSync(linesPath, "utf8").split("\n").filter((l) => l.trim())) {
    const { bench, metrics } = JSON.parse(line);
    benches[bench] = metrics;
  }
  const worldConfig = JSON.parse(fs.readFileSync(`${world}/test.meta.json`, "utf8"));
  const result = { model, world: { configHash: worldConfig.configHash }, benches };
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
' "$lines" "$ASSETS/base-metrics.json" "$ASSETS/base" "$WORLD"
stamp "wrote $ASSETS/base-metrics.json"
