#include "cryptonets/model/range.hpp"

#include <algorithm>

#include "cryptonets/model/layers.hpp"

namespace cryptonets::model {

namespace {

std::vector<ValueInterval> linear_ranges(const LinearMap& map,
                                         const std::vector<ValueInterval>& inputs) {
  std::vector<ValueInterval> outputs(map.outputs);
  for (size_t o = 0; o < map.outputs; ++o) {
    mpz_class lower = static_cast<long>(map.bias[o]);
    mpz_class upper = lower;
    for (const LinearTerm& term : map.terms_of(o)) {
      const ValueInterval& x = inputs[term.input];
      if (term.weight > 0) {
        unsigned long w = static_cast<unsigned long>(term.weight);
        mpz_addmul_ui(upper.get_mpz_t(), x.upper.get_mpz_t(), w);
        mpz_addmul_ui(lower.get_mpz_t(), x.lower.get_mpz_t(), w);
      } else {  // w·x is largest at x = lower: upper += w·lower = upper - |w|·lower
        unsigned long w = static_cast<unsigned long>(-term.weight);
        mpz_submul_ui(upper.get_mpz_t(), x.lower.get_mpz_t(), w);
        mpz_submul_ui(lower.get_mpz_t(), x.upper.get_mpz_t(), w);
      }
    }
    outputs[o] = ValueInterval{std::move(lower), std::move(upper)};
  }
  return outputs;
}

ValueInterval square_range(const ValueInterval& x) {
  mpz_class low_square = x.lower * x.lower;
  mpz_class high_square = x.upper * x.upper;
  if (x.lower >= 0) return {low_square, high_square};
  if (x.upper <= 0) return {high_square, low_square};
  return {mpz_class(0), std::max(low_square, high_square)};
}

// x^k over an interval, k <= 3: x^0 = 1, x² as square_range, odd powers are monotone.
ValueInterval power_range(const ValueInterval& x, int k) {
  if (k == 0) return {mpz_class(1), mpz_class(1)};
  if (k == 2) return square_range(x);
  mpz_class low, high;
  mpz_pow_ui(low.get_mpz_t(), x.lower.get_mpz_t(), static_cast<unsigned long>(k));
  mpz_pow_ui(high.get_mpz_t(), x.upper.get_mpz_t(), static_cast<unsigned long>(k));
  return {low, high};
}

// Σ_k c_k·x^k over the interval, each monomial's interval added (interval arithmetic: an
// enclosure, looser than the exact range when the monomials peak at different x).
ValueInterval polynomial_range(const ValueInterval& x, const std::vector<int64_t>& coefficients) {
  ValueInterval sum{mpz_class(0), mpz_class(0)};
  for (size_t k = 0; k < coefficients.size(); ++k) {
    const ValueInterval power = power_range(x, static_cast<int>(k));
    const mpz_class c = static_cast<long>(coefficients[k]);
    if (c >= 0) {
      sum.lower += c * power.lower;
      sum.upper += c * power.upper;
    } else {
      sum.lower += c * power.upper;
      sum.upper += c * power.lower;
    }
  }
  return sum;
}

LayerRange summarise(size_t layer_index, std::string name, std::vector<ValueInterval> elements) {
  LayerRange range{layer_index, std::move(name), std::move(elements), mpz_class(0), 0};
  for (const ValueInterval& e : range.elements) {
    range.bound = std::max({range.bound, mpz_class(abs(e.lower)), mpz_class(abs(e.upper))});
  }
  range.bits = centred_bits(range.bound);
  return range;
}

int bit_length(const mpz_class& x) {
  return x == 0 ? 0 : static_cast<int>(mpz_sizeinbase(x.get_mpz_t(), 2));
}

mpz_class to_mpz(uint64_t x) {
  return mpz_class(static_cast<unsigned long>(x));
}

// Smallest k with modulus^k >= 2·bound + 1.
int moduli_needed(const mpz_class& bound, uint64_t modulus) {
  mpz_class needed = 2 * bound + 1;
  mpz_class product = 1;
  int k = 0;
  while (product < needed) {
    product *= to_mpz(modulus);
    ++k;
  }
  return k;
}

}  // namespace

int RangeReport::max_layer_bits() const {
  int bits = 0;
  for (const LayerRange& layer : layers)
    bits = std::max(bits, layer.bits);
  return bits;
}

// 2^(k-1) < 2B + 1 <= 2^k  <=>  k = bit length of 2B (B >= 1), and 0 bits for B = 0.
int centred_bits(const mpz_class& bound) {
  return bound == 0 ? 0 : bit_length(bound) + 1;
}

RangeReport track_ranges(const Model& model, int64_t max_input) {
  if (max_input < 0) {
    throw std::invalid_argument("track_ranges: max_input must be >= 0, got " +
                                std::to_string(max_input));
  }
  if (model.layers.empty()) throw std::invalid_argument("track_ranges: the model has no layers");
  CompiledModel compiled = compile_model(model);
  RangeReport report;
  report.max_input = max_input;
  std::vector<ValueInterval> values(
      compiled.input_size, ValueInterval{mpz_class(0), mpz_class(static_cast<long>(max_input))});
  auto step = compiled.steps.begin();
  for (size_t i = 0; i < model.layers.size(); ++i) {
    // A Flatten has no step; a polynomial layer may have two.
    for (; step != compiled.steps.end() && step->layer_index == i; ++step) {
      if (step->kind == CompiledStep::Kind::kSquare) {
        for (ValueInterval& v : values)
          v = square_range(v);
      } else if (step->kind == CompiledStep::Kind::kPolynomial) {
        for (ValueInterval& v : values)
          v = polynomial_range(v, step->coefficients);
      } else {
        values = linear_ranges(step->map, values);
      }
    }
    report.layers.push_back(summarise(i, layer_name(model.layers[i]), values));
  }
  return report;
}

RangeReport track_ranges(const Model& model) {
  return track_ranges(model, max_input_value(model));
}

bool plaintext_modulus_suffices(const RangeReport& report, const mpz_class& modulus) {
  return 2 * report.output().bound + 1 <= modulus;
}

bool plaintext_moduli_suffice(const RangeReport& report, const std::vector<uint64_t>& moduli) {
  mpz_class product = 1;
  for (uint64_t t : moduli)
    product *= to_mpz(t);
  return !moduli.empty() && plaintext_modulus_suffices(report, product);
}

PlaintextModulusTooSmall::PlaintextModulusTooSmall(int needed_bits, int modulus_bits,
                                                   int moduli_given, int moduli_needed,
                                                   const mpz_class& bound, const mpz_class& modulus)
    // The exact comparison too: with equal bit counts ("needs 78 bits; ... has 78 bits") the
    // bits alone read as a contradiction (found by a trial).
    : std::runtime_error("the model needs " + std::to_string(needed_bits) + " bits; " +
                         (moduli_given == 1 ? std::string("plaintext modulus t")
                                            : "the product T of " + std::to_string(moduli_given) +
                                                  " plaintext moduli") +
                         " has " + std::to_string(modulus_bits) + " bits, and decoding needs " +
                         (moduli_given == 1 ? "t" : "T") +
                         " >= 2·B + 1 for the outputs' bound B = " + bound.get_str() + ", but " +
                         (moduli_given == 1 ? "t" : "T") + " = " + modulus.get_str() +
                         " < 2·B + 1 = " + mpz_class(2 * bound + 1).get_str() + ": use " +
                         std::to_string(moduli_needed) + " moduli (CRT) or a smaller input scale"),
      needed_bits_(needed_bits),
      modulus_bits_(modulus_bits),
      moduli_needed_(moduli_needed) {}

void require_plaintext_moduli(const RangeReport& report, const std::vector<uint64_t>& moduli) {
  if (moduli.empty()) throw std::invalid_argument("require_plaintext_moduli: no modulus given");
  mpz_class product = 1;
  for (uint64_t t : moduli) {
    if (t < 2) {
      throw std::invalid_argument("require_plaintext_moduli: modulus " + std::to_string(t) +
                                  " is below 2");
    }
    product *= to_mpz(t);
  }
  if (plaintext_modulus_suffices(report, product)) return;
  uint64_t smallest = *std::min_element(moduli.begin(), moduli.end());
  throw PlaintextModulusTooSmall(
      report.output_bits(), bit_length(product), static_cast<int>(moduli.size()),
      moduli_needed(report.output().bound, smallest), report.output().bound, product);
}

}  // namespace cryptonets::model
