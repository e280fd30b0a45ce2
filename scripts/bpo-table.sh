#!/usr/bin/env bash
# README's BPO table (issue "BPO"; the protocol of "Results you can trust"): BPO (the recipe's
# default) and the paper's ablation, SFT on the same positives (--profile sft-positives), seeds 0,
# 1 and 2, every item of the test split. Runs resume: run the script again to continue after an
# interruption. Then the table:
#   npx selfsynth compare --join runs/bpo-seed{0,1,2} runs/bpo-sft-positives-seed{0,1,2} --markdown
# SEEDS="0" or PROFILES="default" narrow it; THREADS sets the threads (2); SPLIT=validation makes
# the same runs on the validation split (runs/bpo-validation-seedN, runs/bpo-sft-positives+validation-seedN),
# where the recipe's choices are made.
#
# Three pieces of work are shared, each an exact copy of what the run would compute itself:
# - The stage of a run on the other split: the evaluation split changes no stage (a stage's seed
#   comes from the run's seed and the stage's name, its data from the instruction split), so a
#   finished run of the same profile and seed on the other split trained the very model this run
#   would; its stages are copied and this run only evaluates.
# - The base round: every run evaluates the same assets/base on the same items with greedy
#   decoding (its evaluation config is STIC's), so a run starts from a copy of an earlier run's
#   eval/base: of this script's first finished run, else of STIC's run on the same split
#   (runs/stic-seed0, runs/stic-validation-seed0) when it exists.
# - The pairs: a stage's seed depends on the run's seed and the stage's name only (not on the
#   profile), so for one seed both profiles draw the same positives and make the same negatives;
#   sft-positives starts from a copy of the default run's positives and pairs (steps/positives,
#   steps/pairs, steps/diagnostics and data/) and only trains differently.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"0 1 2"}
PROFILES=${PROFILES:-"default sft-positives"}
THREADS=${THREADS:-2}
SPLIT=${SPLIT:-test}
case $SPLIT in test | validation) ;; *) echo "SPLIT must be test or validation, not '$SPLIT'" >&2; exit 2 ;; esac

source scripts/run-sharing.sh
# The run this script makes (PROFILE SEED), and its twin on the other split whose stages it may copy.
run_dir() { run_dir_of bpo "$1" "$2" "$SPLIT"; }
twin_dir() { run_dir_of bpo "$1" "$2" "$(other_split "$SPLIT")"; }

# Copies the default run's positives and pairs (steps and data) into TO unless TO has a stage.
share_pairs() {
  local from=$1/stages/bpo to=$2/stages/bpo
  [ -d "$to" ] && return 0
  [ -f "$from/steps/pairs.json" ] || return 0
  mkdir -p "$to/steps"
  cp -r "$from/data" "$to/data"
  for step in positives pairs diagnostics; do
    [ -f "$from/steps/$step.json" ] && cp "$from/steps/$step.json" "$to/steps/"
  done
  return 0
}

if [ "$SPLIT" = validation ]; then first_base=runs/stic-validation-seed0; else first_base=runs/stic-seed0; fi
for seed in $SEEDS; do
  for profile in $PROFILES; do
    dir=$(run_dir "$profile" "$seed")
    if finished "$dir"; then echo "$dir: finished"; first_base=$dir; continue; fi
    share_base "$first_base" "$dir"
    share_stages "$(twin_dir "$profile" "$seed")" "$dir"
    [ "$profile" = default ] || share_pairs "$(run_dir default "$seed")" "$dir"
    args=(run recipes/bpo.yaml --seed "$seed" --threads "$THREADS" --out "$dir")
    profiles=$profile
    [ "$SPLIT" = validation ] && profiles="$profile,validation"
    profiles=${profiles#default,}
    [ "$profiles" = default ] || args+=(--profile "$profiles")
    npx selfsynth "${args[@]}"
    first_base=$dir
  done
done
