// Quantisation of float networks with polynomial activations (Crypto-Nets, Xie, Bilenko, Finley,
// Gilad-Bachrach, Lauter, Naehrig, arXiv 1412.6181, 2014: low-degree polynomials in place of the
// sigmoid/ReLU) into the integer Model with PolynomialLayers (model/model.hpp).
//
// The float network is the trainer's (sequential_network.hpp) after `cryptonets-train
// --fine-tune FILE --approximate lsq|chebyshev`, with its linear runs merged: FloatNetwork's shape
// (conv 5×5 stride 2, activation, dense, activation, dense) whose activations are squares or
// polynomials of degree 1..3. The linear layers are quantised as in quantiser.hpp; an activation
// Σ_i a_i·x^i of degree d on an input at scale s is written at output scale S = s^d / |a_d|,
//   c_d = sign(a_d),  c_i = round(S · a_i / s^i)  (i < d),
// so that its leading coefficient is exact, and for degree 2 the linear coefficient c_1 is
// rounded to an even integer: A = ±1 and 2A | B let compile_model complete the square exactly
// (layers.hpp), so the polynomial costs no output factor and no more plaintext bits than its
// own range. The rounding error of c_i relative to S·a_i/s^i is at most 1/2 (1 for the even c_1).
// S = s²/|a_2| is the smallest output scale at which a_2 survives as a non-zero integer. A fit with
// a small x² term (the study's sigmoid fits: |a_2| about 2-5e-4) therefore makes S about 2^11-2^12
// times s², and the second activation squares the first's factor: the model's parameters, not the
// plaintext moduli, are then what limits the grid (its constant c_0 and the last layer's biases at
// S·s_d2 reach 2^60; the completed square's constant is compiled as a diagonal step of its own
// when the next layer's weight sums would carry it there, layers.hpp).
#pragma once

#include <array>
#include <functional>
#include <span>
#include <vector>

#include "cryptonets/model/model.hpp"
#include "cryptonets/training/float_network.hpp"
#include "cryptonets/training/quantiser.hpp"
#include "cryptonets/training/sequential_network.hpp"

namespace cryptonets::training {

// FloatNetwork's weights and its two activations (kSquare or kPolynomial of degree 1..3).
struct PolynomialFloatNetwork {
  FloatNetwork linear;  // the weights; its own activations (squares) are ignored
  std::array<Activation, 2> activations;

  bool operator==(const PolynomialFloatNetwork&) const = default;
};

// From a merged sequential network of FloatNetwork's shape. Throws std::invalid_argument for
// another shape, a ReLU or sigmoid activation (fit a polynomial first) or a polynomial whose
// degree (highest non-zero coefficient) is 0 or above 3.
PolynomialFloatNetwork to_polynomial_float_network(const SequentialNetwork& merged);
SequentialNetwork to_sequential_network(const PolynomialFloatNetwork& network);

// The integer layer of an activation on an input at scale `input_scale`, with its output scale
// (the rule above; a square gives SquareLayer at scale s²). Throws std::overflow_error if a
// coefficient reaches 2^60, std::invalid_argument as to_polynomial_float_network.
model::Layer quantise_activation(const Activation& activation, double input_scale);

// The integer network conv, activation, dense, activation, dense with the scales of `scales`
// (QuantisationScales as in quantiser.hpp: input, conv, dense1, dense2 weight scales). Throws as
// quantise (quantiser.hpp) and quantise_activation.
model::Model quantise(const PolynomialFloatNetwork& network, const QuantisationScales& scales);
model::Model quantise(const PolynomialFloatNetwork& network, const QuantisationChoice& choice);

// The float network's predicted class of each image (its forward pass in float32).
std::vector<int> float_classes(const PolynomialFloatNetwork& network, const LabelledImages& images,
                               int threads);

// One grid point: quantise, worst-case range (track_ranges, of the compiled network) and, if it
// needs at most `max_moduli` plaintext moduli, the exact integer evaluation on `test`
// (evaluate_integer_model) against `reference_classes`. Failures are recorded as in quantiser.hpp,
// a parameter that reaches 2^60 with the message naming it.
QuantisationResult measure_polynomial_quantisation(const PolynomialFloatNetwork& network,
                                                   const QuantisationChoice& choice,
                                                   const LabelledImages& test,
                                                   std::span<const int> reference_classes,
                                                   int max_moduli, int threads);

// Every point of `grid` (input scales × weight bits), measured as above; `progress` gets
// (points done, points in all).
std::vector<QuantisationResult> sweep_polynomial_quantisations(
    const PolynomialFloatNetwork& network, const LabelledImages& test, const SweepGrid& grid,
    int threads, const std::function<void(size_t, size_t)>& progress = {});

}  // namespace cryptonets::training
