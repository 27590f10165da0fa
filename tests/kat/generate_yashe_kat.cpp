// INSECURE known-answer vector generator (fixed seeds; see data/kat/README.md). Writes the YASHE'
// vectors of data/kat/ from the parameters below, spelled out explicitly in each file:
//
//   build/tests/generate_yashe_kat DIRECTORY [THREADS]
//
// It was run once, at the commit that added data/kat/; the files are never edited afterwards, and
// test_kat.cpp recomputes them from their own parameter lines. Rerun it only to check, into another
// directory, and compare.
#include <charconv>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

#include "../nn_test_support.hpp"
#include "cryptonets/arith/primes.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "staged_directory.hpp"
#include "yashe_kat.hpp"

using cryptonets::inference::ParameterChoice;
using cryptonets::inference::preset;
using cryptonets::model::Model;

namespace {

using kat::Entries;

void write(const std::filesystem::path& path, const std::string& header, const Entries& inputs,
           const Entries& outputs) {
  std::ofstream out(path);
  out << header;
  out << "# ---- parameters (inputs)\n";
  for (const auto& [k, v] : inputs)
    out << k << " = " << v << "\n";
  out << "# ---- outputs\n";
  for (const auto& [k, v] : outputs)
    out << k << " = " << v << "\n";
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

Entries scheme_inputs(size_t n, size_t primes, uint64_t seed) {
  const std::vector<uint64_t> q = cryptonets::generate_ntt_primes(55, primes, 2 * n);
  const uint64_t t = cryptonets::generate_ntt_primes(40, 1, 2 * n)[0];
  return {{"kind", "yashe-scheme"},      {"n", std::to_string(n)}, {"q_primes", kat::join(q)},
          {"t", std::to_string(t)},      {"sigma", "3.2"},         {"decomposition_bits", "0"},
          {"seed", std::to_string(seed)}};
}

Entries network_inputs(const cryptonets::yashe::Parameters& base,
                       const std::vector<uint64_t>& moduli, uint64_t seed, size_t images,
                       const std::string& model_sha256) {
  char sigma[32];  // the shortest text that reads back as the same double
  *std::to_chars(sigma, sigma + sizeof sigma - 1, base.sigma).ptr = '\0';
  return {{"kind", "yashe-network"},
          {"n", std::to_string(base.n)},
          {"q_primes", kat::join(base.q_primes)},
          {"sigma", sigma},
          {"decomposition_bits", std::to_string(base.decomposition_bits)},
          {"plaintext_moduli", kat::join(moduli)},
          {"seed", std::to_string(seed)},
          {"images", std::to_string(images)},
          {"model", "data/model.txt"},
          {"model.sha256", model_sha256}};
}

// The generator; its errors are thrown (main prints them).
int generate(int argc, char** argv) {
  using namespace cryptonets;
  if (argc < 2) {
    std::cerr << "usage: generate_yashe_kat DIRECTORY [THREADS]  (INSECURE fixed seeds)\n";
    return 2;
  }
  const std::string dir = argv[1];
  int threads = 2;
  if (argc > 2) {
    const std::string_view text = argv[2];
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), threads);
    if (error != std::errc() || end != text.data() + text.size() || threads < 1) {
      std::cerr << "generate_yashe_kat: THREADS is a positive integer, got '" << text << "'\n";
      return 2;
    }
  }
  // The directory is made: data/kat/README.md's "generate_..._kat /tmp/kat" ended in an abort,
  // "cannot write /tmp/kat/...", when /tmp/kat was not there (a trial). Written whole or not at
  // all (staged_directory.hpp).
  kat::StagedDirectory staged(dir, "generate_yashe_kat");
  const std::string root = test_support::repository_root().string();
  const std::string header =
      "# cryptonets known-answer vector (YASHE'), INSECURE fixed seed: never for real data.\n"
      "# Made by tests/kat/generate_yashe_kat.cpp, checked by tests/test_kat.cpp;\n"
      "# format and meaning in data/kat/README.md. Never edit this file.\n";

  const Entries scheme = scheme_inputs(8192, 7, 15001);
  write(staged.file("yashe_scheme_n8192.txt"), header, scheme, kat::scheme_vector(scheme));

  std::ifstream model_in(root + "/data/model.txt", std::ios::binary);
  const std::string model_text((std::istreambuf_iterator<char>(model_in)),
                               std::istreambuf_iterator<char>());
  const std::string model_sha =
      to_hex(sha256({reinterpret_cast<const uint8_t*>(model_text.data()), model_text.size()}));
  const Model model = load_model(root + "/data/model.txt");

  // n = 1024: the default suite's network vector (the same slot arithmetic, far fewer residues).
  yashe::Parameters small = yashe::Parameters::create(1024, 7, 55, 3);
  const std::vector<uint64_t> small_moduli =
      encoding::select_plaintext_moduli(1024, 40, 2, small.q_primes);
  const Entries small_in = network_inputs(small, small_moduli, 15002, 4, model_sha);
  write(staged.file("yashe_network_n1024.txt"), header, small_in,
        kat::network_vector(small_in, root, threads));

  // n = 8192: the parameters of the preset "default" at this commit, written out.
  const ParameterChoice choice = preset("default", model);
  const Entries large_in =
      network_inputs(choice.base, choice.plaintext_moduli, 15003, 8, model_sha);
  write(staged.file("yashe_network_n8192.txt"), header, large_in,
        kat::network_vector(large_in, root, threads));
  for (const std::filesystem::path& path : staged.commit())
    std::cerr << "wrote " << path.string() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return generate(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "generate_yashe_kat: error: " << error.what() << '\n';
    return 1;
  }
}
