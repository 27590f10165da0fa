#!/usr/bin/env bash
# Issue 17's activation study: 5-layer networks (the shipped architecture) trained with ReLU and
# with sigmoid, then each activation replaced by its degree-2 polynomial fits, used (a) as a drop-in
# and (b) fine-tuned with the polynomial in place. Every run is single-threaded (bit-identical on
# the same platform) and logs to bench/results/activation-study/NAME.log.
# A failed or interrupted run leaves bench/results/activation-study and data/activation-study as
# they were (bench/common.sh): the logs, tables and models are written in a temporary directory and
# published when every step of the run has succeeded; a failed step's log ends on stderr.
#
#   bash bench/activation_study.sh [STEP...]   (default: every step, in the order below)
#
# Float models: data/activation-study/{relu,sigmoid}.txt and *-finetuned.txt (shipped); the
# drop-ins (the original with its activations replaced, no training) are not kept, since they are
# a deterministic function of the original (the driver recomputes their float accuracy): made in
# the run's temporary directory (WORK/dropins in what the run records; they went to
# build/activation-study, left behind, a review), or in $SCRATCH if set; a drop-in quantised by a
# run that did not make it is made first (about a second: --epochs 0).
# Integer models: data/activation-study/NAME-int.txt for every fine-tuned model and drop-in
# (cryptonets-quantise --sequential on a small grid: input scales 4 and 16, 4..6 weight bits per
# layer; drop-ins: input scale 4, 5..6 bits; sigmoid fits: input scale 4, 3..6 bits, drop-ins
# 3..5; the table of each in bench/results/activation-study/NAME-quantisation.md).
# Environment: TRAIN (the trainer, default build/cryptonets-train), QUANTISE (the quantiser,
# default build/cryptonets-quantise), EPOCHS (originals, 25),
# FT_EPOCHS (fine-tuning, 20), FT_LR (fine-tuning step size, 0.002), SCRATCH (the drop-ins kept
# there; default: none kept).
set -euo pipefail
bench_caller=$PWD  # paths given relative to it are the caller's (bench_from_caller)
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
bench_usage="bash bench/activation_study.sh [STEP...]  (steps: relu, sigmoid, relu-dropins,
  sigmoid-dropins, ACTIVATION-FIT with FIT lsq, chebyshev or lsq-observed, quantise,
  quantise-NAME; default: every step)"
bench_help "$@"
steps=("$@")
if [ ${#steps[@]} -eq 0 ]; then
  steps=(relu relu-dropins sigmoid sigmoid-dropins relu-lsq-observed relu-lsq sigmoid-lsq-observed
    relu-chebyshev sigmoid-lsq sigmoid-chebyshev quantise)
fi
# Every step is known before the first one runs (an unknown one was refused only after the steps
# before it, hours of training).
for s in "${steps[@]}"; do
  case "$s" in
    relu | sigmoid | relu-dropins | sigmoid-dropins | quantise | quantise-?*) ;;
    relu-lsq | relu-chebyshev | relu-lsq-observed | sigmoid-lsq | sigmoid-chebyshev | sigmoid-lsq-observed) ;;
    *) bench_usage_error "unknown step '$s'" ;;
  esac
done
train=$(bench_from_caller "${TRAIN:-}" build/cryptonets-train)
quantiser=$(bench_from_caller "${QUANTISE:-}" build/cryptonets-quantise)
epochs=${EPOCHS:-25}
ft_epochs=${FT_EPOCHS:-20}
ft_lr=${FT_LR:-0.002}
needs_train=false
needs_quantiser=false
for s in "${steps[@]}"; do
  case "$s" in
    # A drop-in is made before it is quantised (quantise() below), by the trainer: without it the
    # run failed only there, after the quantisations before it (a review).
    quantise | quantise-*-dropin) needs_quantiser=true needs_train=true ;;
    quantise*) needs_quantiser=true ;;
    *) needs_train=true ;;
  esac
done
! $needs_train || bench_program "$train"
! $needs_quantiser || bench_program "$quantiser"
models=data/activation-study
logs=bench/results/activation-study
# The run's models, logs and tables, published at the end: a failed step overwrote its committed
# log (a review), and the models of the steps before it were replaced already.
bench_work_dir
new_models=$bench_work/models
new_logs=$bench_work/logs
mkdir "$new_models" "$new_logs"
scratch=$(bench_from_caller "${SCRATCH:-}" "$bench_work/dropins")
scratch_named=${SCRATCH:-WORK/dropins}  # as the published files name it
mkdir -p "$scratch"
[ ! -f "$logs/commands.log" ] || cp "$logs/commands.log" "$new_logs/commands.log"

step() {  # name, command...
  local name=$1
  shift
  echo "$(date -u +%FT%TZ) start $name: $*" | tee -a "$new_logs/commands.log"
  if ! "$@" >"$new_logs/$name.log" 2>&1; then
    echo "$bench_name: step $name failed; nothing was published. The end of its log:" >&2
    tail -n 20 "$new_logs/$name.log" >&2
    exit 1
  fi
  echo "$(date -u +%FT%TZ) done  $name" | tee -a "$new_logs/commands.log"
}

# A float model of the study: this run's, else the committed one (else the scratch drop-in).
model() {  # name without .txt
  if [ -f "$new_models/$1.txt" ]; then echo "$new_models/$1.txt"
  elif [ -f "$models/$1.txt" ] || [ ! -f "$scratch/$1.txt" ]; then echo "$models/$1.txt"
  else echo "$scratch/$1.txt"
  fi
}

original() {  # activation
  step "$1" "$train" --activation "$1" --epochs "$epochs" --seed 1 --threads 1 \
    --out "$new_models/$1.txt"
}
dropin() {  # activation fit
  step "$1-$2-dropin" "$train" --fine-tune "$(model "$1")" --approximate "$2" --degree 2 \
    --epochs 0 --seed 2 --threads 1 --out "$scratch/$1-$2-dropin.txt"
}
finetune() {  # activation fit
  step "$1-$2-finetuned" "$train" --fine-tune "$(model "$1")" --approximate "$2" --degree 2 \
    --epochs "$ft_epochs" --lr "$ft_lr" --seed 2 --threads 1 --out "$new_models/$1-$2-finetuned.txt"
}

quantise() {  # name (a float model in $models or $scratch without .txt)
  local float fit
  float=$(model "$1")
  if [[ $1 == *-dropin && ! -f $float ]]; then  # not made by this run: made now
    fit=${1#*-}
    dropin "${1%%-*}" "${fit%-dropin}"
    float=$(model "$1")
  fi
  # Drop-ins (far from the originals' accuracy whatever the grid): a smaller grid. Sigmoid fits
  # (|a2| about 3e-4, output scale s²/|a2|): their parameters pass 2^60 beyond input scale 4 and
  # 6 bits in all, so their grid is input scale 4 with 3..6 bits (drop-ins 3..5).
  local grid=(--input-scales 4,16 --min-bits 4 --max-bits 6)
  case "$1" in
    sigmoid-*-dropin) grid=(--input-scales 4 --min-bits 3 --max-bits 5) ;;
    sigmoid-*) grid=(--input-scales 4 --min-bits 3 --max-bits 6) ;;
    *-dropin) grid=(--input-scales 4 --min-bits 5 --max-bits 6) ;;
  esac
  step "$1-quantise" "$quantiser" --sequential "$float" --out "$new_models/$1-int.txt" \
    --results "$new_logs/$1-quantisation.md" "${grid[@]}" --threads 1
}

for s in "${steps[@]}"; do
  case "$s" in
    relu | sigmoid) original "$s" ;;
    *-dropins) for fit in lsq chebyshev lsq-observed; do dropin "${s%-dropins}" "$fit"; done ;;
    *-lsq | *-chebyshev | *-lsq-observed)
      activation=${s%%-*}
      finetune "$activation" "${s#*-}"
      ;;
    quantise-*) quantise "${s#quantise-}" ;;
    quantise)
      for a in relu sigmoid; do
        for fit in lsq chebyshev lsq-observed; do
          for variant in finetuned dropin; do quantise "$a-$fit-$variant"; done
        done
      done
      ;;
    *) echo "unknown step '$s'" >&2; exit 2 ;;
  esac
done

# Every step succeeded: the run's files replace the committed ones, each by a rename. The programs
# record the paths they were given (commands.log, the reports' and the quantised models'
# "regenerate" commands, "quantised from"), which name the temporary directory, removed at the
# end: each is written as the published path (a review: they named TMPDIR/activation_study.X/...),
# and the drop-ins' directory as WORK/dropins.
mkdir -p "$models" "$logs"
for file in "$new_models"/* "$new_logs"/*; do
  [ -f "$file" ] || continue
  case "$file" in "$new_models"/*) dest=$models ;; *) dest=$logs ;; esac
  FROM_MODELS=$new_models TO_MODELS=$models FROM_LOGS=$new_logs TO_LOGS=$logs \
    FROM_DROPINS=$scratch TO_DROPINS=$scratch_named awk '
    function swap(text, from, to,   out, at) {  # every `from` in `text` as `to`, literally
      out = ""
      while ((at = index(text, from)) > 0) {
        out = out substr(text, 1, at - 1) to
        text = substr(text, at + length(from))
      }
      return out text
    }
    { print swap(swap(swap($0, ENVIRON["FROM_MODELS"], ENVIRON["TO_MODELS"]), ENVIRON["FROM_LOGS"],
                      ENVIRON["TO_LOGS"]), ENVIRON["FROM_DROPINS"], ENVIRON["TO_DROPINS"]) }' \
    "$file" >"$file.published"
  bench_publish "$file.published" "$dest/$(basename "$file")"
done
