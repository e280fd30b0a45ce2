#!/usr/bin/env bash
# README's STIC table (issue 14's protocol): STIC with the self-check (the recipe's default, the
# rate rule, not in the paper), STIC as published (--profile paper), the self-check's count rule
# (--profile count-rule) and, on the count rule's pairs, STIC without negatives (--profile
# count-rule,no-negatives), seeds 0, 1 and 2, every item of the test split. About 25 minutes for
# a seed's default run and 15 to 20 for each of the others on 2 cores. Runs resume: run the script
# again to continue after an interruption. A profile's runs go to runs/stic-PROFILE-seedN, commas
# written '+' as selfsynth names them (runs/stic-count-rule+no-negatives-seed0). Then the table
# (README, STIC, has the metrics and the comparison against the published recipe):
#   npx selfsynth compare --join runs/stic-seed{0,1,2} runs/stic-paper-seed{0,1,2} \
#     runs/stic-count-rule-seed{0,1,2} runs/stic-count-rule+no-negatives-seed{0,1,2} --markdown
#
# Three pieces of work are shared, each an exact copy of what the run would compute itself:
# - The stages of a validation run: the evaluation split changes no stage (a stage's seed comes
#   from the run's seed and the stage's name, and its data from the pool split), so a profile's
#   run on validation (runs/stic-PROFILE+validation-seedN, runs/stic-validation-seedN for the
#   default) trained the very models the test run would (sha256 of a test run's stage-1 model =
#   that of its validation twin's); when it finished, its stages are copied and the test run
#   only evaluates them.
# - The base round: every run evaluates the same assets/base on the same items with greedy
#   decoding, so runs after the first start from a copy of its eval/base.
# - The pairs: a stage's seed depends on the run's seed and the stage's name only (not on the
#   profile), so for one seed every profile draws the same pool images and the same pairs; each
#   starts from a copy of the default run's pairs, and a no-negatives profile from the
#   self-checked pairs of its profile without no-negatives (count-rule,no-negatives from
#   count-rule's; no-negatives alone from the default's).
# SEEDS="0 1" or PROFILES="default paper" narrow the table; THREADS sets the threads (2).
# SPLIT=validation makes the same runs on the validation split instead (runs/stic-validation-seedN,
# runs/stic-PROFILE+validation-seedN), where the recipe's choices are made; there the stages are
# copied from the finished test runs, so only the evaluations are new.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"0 1 2"}
PROFILES=${PROFILES:-"default paper count-rule count-rule,no-negatives"}
THREADS=${THREADS:-2}
SPLIT=${SPLIT:-test}
case $SPLIT in test | validation) ;; *) echo "SPLIT must be test or validation, not '$SPLIT'" >&2; exit 2 ;; esac

source scripts/run-sharing.sh
# The run this script makes (PROFILE SEED), and its twin on the other split whose stages it may copy.
run_dir() { run_dir_of stic "$1" "$2" "$SPLIT"; }
twin_dir() { run_dir_of stic "$1" "$2" "$(other_split "$SPLIT")"; }

# Copies the default run's stage-1 pairs (and with "self-check", its self-checked pairs) into TO.
share_pairs() {
  local from=$1/stages/stic-stage1 to=$2/stages/stic-stage1 with_check=$3
  [ -d "$to" ] && return 0
  [ -f "$from/steps/pairs.json" ] || return 0
  mkdir -p "$to/steps"
  cp -r "$from/data" "$to/data"
  rm -f "$to/data/pairs-self-checked.jsonl"
  cp "$from/steps/pairs.json" "$to/steps/"
  if [ "$with_check" = self-check ]; then
    cp "$from/data/pairs-self-checked.jsonl" "$to/data/"
    cp "$from/steps/self-check.json" "$to/steps/"
  fi
}

first_base=""
for seed in $SEEDS; do
  for profile in $PROFILES; do
    dir=$(run_dir "$profile" "$seed")
    if finished "$dir"; then echo "$dir: finished"; [ -n "$first_base" ] || first_base=$dir; continue; fi
    [ -n "$first_base" ] && share_base "$first_base" "$dir"
    share_stages "$(twin_dir "$profile" "$seed")" "$dir"
    default_dir=$(run_dir default "$seed")
    case $profile in
      default) ;;
      no-negatives) share_pairs "$default_dir" "$dir" self-check ;;
      *,no-negatives) share_pairs "$(run_dir "${profile%,no-negatives}" "$seed")" "$dir" self-check ;;
      *) share_pairs "$default_dir" "$dir" none ;;
    esac
    args=(run recipes/stic.yaml --seed "$seed" --threads "$THREADS" --out "$dir")
    profiles=$profile
    [ "$SPLIT" = validation ] && profiles="$profile,validation"
    profiles=${profiles#default,}
    [ "$profiles" = default ] || args+=(--profile "$profiles")
    npx selfsynth "${args[@]}"
    [ -n "$first_base" ] || first_base=$dir
  done
done
