// INSECURE known-answer vector generator (fixed seeds; see data/kat/README.md). Writes the BFV
// vector at n = 8192, the small-size vectors of both schemes (every value in full) and the first
// outputs of the random stream and samplers, from the parameters below, spelled out explicitly in
// each file:
//
//   build/tests/generate_bfv_kat DIRECTORY
//
// It was run once, at the commit that added these files; they are never edited afterwards, and
// test_kat.cpp recomputes them from their own parameter lines. Rerun it only to check, into another
// directory, and compare. (The YASHE' vectors of the earlier commit come from generate_yashe_kat.)
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "bfv_kat.hpp"
#include "cryptonets/arith/primes.hpp"
#include "staged_directory.hpp"

namespace {

using kat::Entries;

void write(const std::filesystem::path& path, const std::string& scheme, const Entries& inputs,
           const Entries& outputs) {
  std::ofstream out(path);
  out << "# cryptonets known-answer vector (" << scheme
      << "), INSECURE fixed seed: never for real data.\n"
         "# Made by tests/kat/generate_bfv_kat.cpp, checked by tests/test_kat.cpp;\n"
         "# format and meaning in data/kat/README.md. Never edit this file.\n";
  out << "# ---- parameters (inputs)\n";
  for (const auto& [k, v] : inputs)
    out << k << " = " << v << "\n";
  out << "# ---- outputs\n";
  for (const auto& [k, v] : outputs)
    out << k << " = " << v << "\n";
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

Entries inputs(const std::string& kind, size_t n, const std::vector<uint64_t>& q, uint64_t t,
               uint64_t seed) {
  return {{"kind", kind},
          {"n", std::to_string(n)},
          {"q_primes", kat::join(q)},
          {"t", std::to_string(t)},
          {"sigma", "3.2"},
          {"decomposition_bits", "0"},
          {"seed", std::to_string(seed)}};
}

// The generator; its errors are thrown (main prints them).
int generate(int argc, char** argv) {
  using namespace cryptonets;
  if (argc < 2) {
    std::cerr << "usage: generate_bfv_kat DIRECTORY  (INSECURE fixed seeds)\n";
    return 2;
  }
  const std::string dir = argv[1];
  // The directory is made: data/kat/README.md's "generate_..._kat /tmp/kat" ended in an abort,
  // "cannot write /tmp/kat/...", when /tmp/kat was not there (a trial). Written whole or not at
  // all (staged_directory.hpp).
  kat::StagedDirectory staged(dir, "generate_bfv_kat");

  // n = 8192: the shape of the BFV preset (log2 q = 218, inside the HE standard's 128-bit bound
  // for ternary secrets), written out: two 55-bit and two 54-bit primes, a 39-bit t.
  std::vector<uint64_t> q = generate_ntt_primes(55, 2, 2 * 8192);
  for (uint64_t p : generate_ntt_primes(54, 2, 2 * 8192))
    q.push_back(p);
  const uint64_t t = generate_ntt_primes(39, 1, 2 * 8192)[0];
  const Entries large = inputs("bfv-scheme", 8192, q, t, 18001);
  write(staged.file("bfv_scheme_n8192.txt"), "BFV", large, kat::bfv_scheme_vector(large));

  // n = 16, two 30-bit primes, t = 257 (≡ 1 mod 32): small enough to read every value.
  const std::vector<uint64_t> small_q = generate_ntt_primes(30, 2, 2 * 16);
  const Entries small_yashe = inputs("yashe-scheme-full", 16, small_q, 257, 18002);
  write(staged.file("yashe_scheme_n16.txt"), "YASHE'", small_yashe,
        kat::full_scheme_vector(small_yashe));
  const Entries small_bfv = inputs("bfv-scheme-full", 16, small_q, 257, 18003);
  write(staged.file("bfv_scheme_n16.txt"), "BFV", small_bfv, kat::full_scheme_vector(small_bfv));

  // The stream and the samplers alone, for checking another implementation step by step.
  const Entries samplers = {
      {"kind", "samplers"}, {"seed", "18004"}, {"q", std::to_string(small_q[0])}, {"sigma", "3.2"}};
  write(staged.file("samplers_seed18004.txt"), "random stream and samplers", samplers,
        kat::sampler_vector(samplers));
  for (const std::filesystem::path& path : staged.commit())
    std::cerr << "wrote " << path.string() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return generate(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "generate_bfv_kat: error: " << error.what() << '\n';
    return 1;
  }
}
