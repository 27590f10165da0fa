// Test helper: the plain integer network's scores as CSV lines "image,score_0,...,score_{C-1}",
// for comparison with `cryptonets decrypt --scores` (whose writer this does not share: the scores
// come from evaluate_plain in 128-bit integers, printed through GMP).
//
// usage: plain_scores MODEL IMAGES FIRST COUNT
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "cryptonets/arith/wide_integer.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/model/layers.hpp"

using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::evaluate_plain;
using cryptonets::model::Model;

int main(int argc, char** argv) {
  using namespace cryptonets;
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s MODEL IMAGES FIRST COUNT\n", argv[0]);
    return 2;
  }
  try {
    const Model model = load_model(argv[1]);
    const CompiledModel compiled = compile_model(model);
    const MnistImages images = read_mnist_images(argv[2]);
    const size_t first = std::stoul(argv[3]), count = std::stoul(argv[4]);
    size_t index = first;
    for (const auto& image : quantised_images(model, images, first, count)) {
      std::string line = std::to_string(index++);
      for (i128 score : evaluate_plain(compiled, image))
        line += "," + to_mpz(score).get_str();
      std::puts(line.c_str());
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "plain_scores: %s\n", error.what());
    return 1;
  }
  return 0;
}
