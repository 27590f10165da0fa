// Keyless noise predictions for bench/results/levers.md (issue 16, "evaluate the other levers"):
// the predicted budget of a model under given plaintext moduli and q = COUNT primes of BITS bits,
// through the library's own predict_network_noise (inference/parameter_selection.hpp).
// Not built by meson; compile by hand against a release build (see levers.md).
//
//   levers_noise MODEL [t_bits t_count] -- prints, for q = 5..12 primes of 55 bits and 6..9 of
//   50 bits, the predicted final budget (min over the moduli) and the key-switching cost.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/model/model.hpp"
#include "cryptonets/model/range.hpp"

using namespace cryptonets;

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const model::Model m = load_model(argv[1]);
  const model::CompiledModel compiled = model::compile_model(m);
  const model::RangeReport ranges = model::track_ranges(m);
  const size_t n = 8192;
  std::vector<uint64_t> moduli;
  if (argc >= 4) {
    moduli = generate_ntt_primes(std::atoi(argv[2]), std::stoul(argv[3]), 2 * n);
  } else {
    moduli = inference::preset("default", m).plaintext_moduli;
  }
  std::printf("model %s: worst-case output %d centred bits\n", argv[1], ranges.output_bits());
  std::printf("plaintext moduli:");
  for (uint64_t t : moduli)
    std::printf(" %llu", static_cast<unsigned long long>(t));
  std::printf(" -> suffice: %s\n", model::plaintext_moduli_suffice(ranges, moduli) ? "yes" : "NO");
  for (int bits : {55, 50}) {
    for (size_t count = 5; count <= 12; ++count) {
      const yashe::Parameters p = yashe::Parameters::create(n, count, bits, moduli[0]);
      const double budget = inference::predict_budget_over_moduli(p, moduli, compiled);
      std::printf("q = %zu x %d bits: predicted budget %.1f bits\n", count, bits, budget);
    }
  }
  return 0;
}
