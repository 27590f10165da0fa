#!/bin/sh
# The layer order of README.md ("Layout"): a layer includes only from itself and the layers before
# it, never from a sibling of the same rank, and training/ includes no cryptography at all.
#   arith -> ring -> random -> rlwe -> {yashe, bfv} -> encoding -> model -> {training, inference} -> io -> cli
# Usage: check_layers.sh SOURCE_ROOT. Prints each violation (file, line, included header); exit 1 if any.
set -eu
root=${1:-.}
cd "$root"

rank() {
  case $1 in
    arith) echo 0 ;; ring) echo 1 ;; random) echo 2 ;; rlwe) echo 3 ;;
    yashe | bfv) echo 4 ;; encoding) echo 5 ;; model) echo 6 ;;
    training | inference) echo 7 ;; io) echo 8 ;; cli) echo 9 ;;
    *) echo "" ;;
  esac
}

status=0
for dir in include/cryptonets/* src/*; do
  [ -d "$dir" ] || continue
  layer=${dir##*/}
  own=$(rank "$layer")
  if [ -z "$own" ]; then
    echo "check_layers: $dir is not a layer of the order above; add it to tests/check_layers.sh"
    status=1
    continue
  fi
  for file in $(find "$dir" -type f \( -name '*.hpp' -o -name '*.cpp' \) | sort); do
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"cryptonets/' "$file" |
      sed 's|^\([0-9]*\):.*"cryptonets/\([a-z_0-9]*\)/.*|\1 \2|' >"${TMPDIR:-/tmp}/check_layers.$$" || true
    while read -r line included; do
      theirs=$(rank "$included")
      why=""
      if [ -z "$theirs" ]; then
        why="unknown layer '$included'"
      elif [ "$included" != "$layer" ] && [ "$theirs" -ge "$own" ]; then
        why="$layer may not include $included (a later or sibling layer)"
      elif [ "$layer" = training ]; then
        case $included in
          rlwe | yashe | bfv | encoding | inference) why="training/ includes no cryptography ($included)" ;;
        esac
      fi
      if [ -n "$why" ]; then
        echo "$file:$line: $why"
        status=1
      fi
    done <"${TMPDIR:-/tmp}/check_layers.$$"
  done
done
rm -f "${TMPDIR:-/tmp}/check_layers.$$"
[ "$status" -eq 0 ] && echo "check_layers: every include follows the layer order"
exit "$status"
