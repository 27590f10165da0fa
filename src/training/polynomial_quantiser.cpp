#include "cryptonets/training/polynomial_quantiser.hpp"

#include <cmath>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <string>

#include "cryptonets/model/range.hpp"

namespace cryptonets::training {

using model::Model;
using model::PolynomialLayer;
using model::SquareLayer;

namespace {

// The activation's degree: its highest non-zero coefficient (a fit may end in zeros).
int true_degree(const Activation& activation) {
  int degree = static_cast<int>(activation.coefficients.size()) - 1;
  while (degree >= 0 && activation.coefficients[static_cast<size_t>(degree)] == 0.0)
    --degree;
  return degree;
}

void require_integer_activation(const Activation& activation, int index) {
  const std::string where =
      "activation " + std::to_string(index + 1) + " (" + activation.name() + ")";
  if (activation.kind == ActivationKind::kSquare) return;
  if (activation.kind != ActivationKind::kPolynomial) {
    throw std::invalid_argument(
        where +
        ": the integer model takes squares and polynomials only; replace it by its "
        "polynomial fit first (cryptonets-train --fine-tune FILE --approximate lsq)");
  }
  for (double c : activation.coefficients) {
    if (!std::isfinite(c)) throw std::invalid_argument(where + ": a coefficient is not finite");
  }
  const int degree = true_degree(activation);
  if (degree < model::kMinPolynomialDegree || degree > model::kMaxPolynomialDegree) {
    throw std::invalid_argument(where + ": degree " + std::to_string(degree) +
                                " is outside the integer model's [1, 3]");
  }
}

int64_t quantise_coefficient(double value, int power, double input_scale) {
  if (!(std::fabs(value) < static_cast<double>(model::kMaxPolynomialCoefficient))) {
    std::ostringstream message;
    message << "quantise: the coefficient of x^" << power << " is " << value << " at input scale "
            << input_scale << ", beyond the 2^60 limit of model parameters; use smaller scales";
    throw std::overflow_error(message.str());
  }
  return static_cast<int64_t>(value);
}

}  // namespace

PolynomialFloatNetwork to_polynomial_float_network(const SequentialNetwork& merged) {
  if (merged.layers.size() != 5 || merged.layers[1].kind != LayerKind::kActivation ||
      merged.layers[3].kind != LayerKind::kActivation) {
    throw std::invalid_argument(
        "to_polynomial_float_network: need conv 5x5 stride 2 on the 29x29 input, activation, "
        "dense, activation, dense (merge the linear runs first)");
  }
  PolynomialFloatNetwork out;
  out.activations = {merged.layers[1].activation, merged.layers[3].activation};
  for (int i = 0; i < 2; ++i)
    require_integer_activation(out.activations[static_cast<size_t>(i)], i);
  SequentialNetwork squares = merged;
  squares.layers[1].activation = squares.layers[3].activation = Activation{};
  out.linear = to_float_network(squares);  // checks the shape
  return out;
}

SequentialNetwork to_sequential_network(const PolynomialFloatNetwork& network) {
  SequentialNetwork out = from_float_network(network.linear);
  out.layers[1].activation = network.activations[0];
  out.layers[3].activation = network.activations[1];
  return out;
}

model::Layer quantise_activation(const Activation& activation, double input_scale) {
  require_integer_activation(activation, 0);
  if (!(input_scale > 0) || !std::isfinite(input_scale)) {
    throw std::invalid_argument("quantise_activation: the input scale must be finite and positive");
  }
  if (activation.kind == ActivationKind::kSquare)
    return model::Layer{SquareLayer{}, input_scale * input_scale};
  const int degree = true_degree(activation);
  const std::vector<double>& a = activation.coefficients;
  const double leading = a[static_cast<size_t>(degree)];
  // S = s^d / |a_d|: the leading coefficient becomes exactly ±1.
  const double output_scale = std::pow(input_scale, degree) / std::fabs(leading);
  if (!std::isfinite(output_scale) || !(output_scale > 0)) {
    throw std::overflow_error("quantise: the output scale of " + activation.name() +
                              " is not a finite positive number");
  }
  PolynomialLayer poly;
  poly.coefficients.assign(static_cast<size_t>(degree) + 1, 0);
  poly.coefficients.back() = leading > 0 ? 1 : -1;
  for (int i = 0; i < degree; ++i) {
    const double exact = output_scale * a[static_cast<size_t>(i)] / std::pow(input_scale, i);
    // Degree 2: c_1 even, so that 2A = ±2 divides it (compile_model completes the square).
    const double rounded =
        degree == 2 && i == 1 ? 2.0 * std::round(exact / 2.0) : std::round(exact);
    poly.coefficients[static_cast<size_t>(i)] = quantise_coefficient(rounded, i, input_scale);
  }
  return model::Layer{std::move(poly), output_scale};
}

Model quantise(const PolynomialFloatNetwork& network, const QuantisationScales& scales) {
  return quantise_with_activations(network.linear, scales, [&](int index, double input_scale) {
    return quantise_activation(network.activations[static_cast<size_t>(index)], input_scale);
  });
}

Model quantise(const PolynomialFloatNetwork& network, const QuantisationChoice& choice) {
  return quantise(network, scales_for_choice(network.linear, choice));
}

std::vector<int> float_classes(const PolynomialFloatNetwork& network, const LabelledImages& images,
                               int threads) {
  const SequentialNetwork sequential = to_sequential_network(network);
  std::vector<int> classes(images.size());
  const long count = static_cast<long>(images.size());
#pragma omp parallel for schedule(static) num_threads(std::max(threads, 1))
  for (long i = 0; i < count; ++i) {
    const std::vector<float> scores = forward(sequential, images.image(static_cast<size_t>(i)));
    classes[static_cast<size_t>(i)] = predicted_class(scores);
  }
  return classes;
}

QuantisationResult measure_polynomial_quantisation(const PolynomialFloatNetwork& network,
                                                   const QuantisationChoice& choice,
                                                   const LabelledImages& test,
                                                   std::span<const int> reference_classes,
                                                   int max_moduli, int threads) {
  QuantisationResult result;
  result.choice = choice;
  result.scales = scales_for_choice(network.linear, choice);
  Model model;
  model::RangeReport report;
  try {
    model = quantise(network, result.scales);
    report = model::track_ranges(model);  // compiles: folds may overflow too
  } catch (const std::overflow_error& e) {
    result.failure = e.what();  // which layer's parameter: the report groups the points by it
    return result;
  }
  result.worst_case_bits = report.output_bits();
  result.moduli = plaintext_moduli_needed(report);
  if (!result.moduli || *result.moduli > max_moduli) return result;
  try {
    result.test = evaluate_integer_model(model, test, threads, reference_classes);
    result.evaluated = true;
  } catch (const std::overflow_error&) {
    result.failure = "a value leaves the 128-bit range";
  }
  return result;
}

std::vector<QuantisationResult> sweep_polynomial_quantisations(
    const PolynomialFloatNetwork& network, const LabelledImages& test, const SweepGrid& grid,
    int threads, const std::function<void(size_t, size_t)>& progress) {
  if (grid.min_bits < 1 || grid.max_conv_bits < grid.min_bits ||
      grid.max_dense1_bits < grid.min_bits || grid.max_dense2_bits < grid.min_bits) {
    throw std::invalid_argument(
        "sweep_polynomial_quantisations: empty or invalid range of weight bits");
  }
  const std::vector<int> reference = float_classes(network, test, threads);
  const size_t total = grid.input_scales.size() *
                       static_cast<size_t>(grid.max_conv_bits - grid.min_bits + 1) *
                       static_cast<size_t>(grid.max_dense1_bits - grid.min_bits + 1) *
                       static_cast<size_t>(grid.max_dense2_bits - grid.min_bits + 1);
  std::vector<QuantisationResult> results;
  for (double input_scale : grid.input_scales) {
    for (int c = grid.min_bits; c <= grid.max_conv_bits; ++c) {
      for (int d1 = grid.min_bits; d1 <= grid.max_dense1_bits; ++d1) {
        for (int d2 = grid.min_bits; d2 <= grid.max_dense2_bits; ++d2) {
          results.push_back(measure_polynomial_quantisation(
              network, {input_scale, {c, d1, d2}}, test, reference, grid.max_moduli, threads));
          if (progress) progress(results.size(), total);
        }
      }
    }
  }
  return results;
}

}  // namespace cryptonets::training
