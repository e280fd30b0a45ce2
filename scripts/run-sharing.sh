# Shell functions the table scripts (stic-table.sh, bpo-table.sh) share: where a recipe's run of a
# profile, seed and split goes, whether a run finished, and the exact copies of finished work one
# run may take from another (its base round, its stages). Sourced, not run.

# runs/NAME[-PROFILE][+validation]-seedSEED, as selfsynth names a run (commas in a profile list
# written '+'); the default profile on validation is runs/NAME-validation-seedSEED.
run_dir_of() {
  local name=$1 profile=${2//,/+} seed=$3 split=$4
  if [ "$profile" = default ]; then
    if [ "$split" = validation ]; then echo "runs/$name-validation-seed$seed"; else echo "runs/$name-seed$seed"; fi
  elif [ "$split" = validation ]; then
    echo "runs/$name-$profile+validation-seed$seed"
  else
    echo "runs/$name-$profile-seed$seed"
  fi
}

# The other split than SPLIT (test <-> validation).
other_split() { if [ "$1" = test ]; then echo validation; else echo test; fi; }

finished() { [ -f "$1/manifest.json" ] && grep -q '"finishedAt": "' "$1/manifest.json"; }

# Copies FROM's finished base round into TO unless TO has one.
share_base() {
  local from=$1 to=$2
  [ -d "$to/eval/base" ] && return 0
  [ -f "$from/eval/base/species.json" ] || return 0
  mkdir -p "$to/eval"
  cp -r "$from/eval/base" "$to/eval/base"
}

# Copies a finished run's stages into TO unless TO has stages.
share_stages() {
  local from=$1 to=$2
  [ -d "$to/stages" ] && return 0
  finished "$from" || return 0
  mkdir -p "$to"
  cp -r "$from/stages" "$to/stages"
}
