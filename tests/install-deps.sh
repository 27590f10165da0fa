#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and the benchmarks need.
# Idempotent: installs only what is missing, so the test command can run it on every machine.
set -euo pipefail
# libopenmpi-dev, openmpi-bin: distributed infer under mpirun (meson feature mpi; optional: the
# build and the default tests also pass without them, see run-all.sh).
packages=(g++ meson ninja-build pkg-config libgmp-dev libntl-dev zlib1g-dev doctest-dev
          libbenchmark-dev gnuplot-nox libcpp-httplib-dev libssl-dev nlohmann-json3-dev
          libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
