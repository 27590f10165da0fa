// The deferred-relinearisation schedule of the network runtime, written once for every value type
// that follows it: ciphertexts of either scheme (encrypted_arithmetic.hpp) and the keyless noise
// estimates of parameter selection (parameter_selection.cpp), so that the noise prediction runs
// the very circuit an encrypted run does.
//
// A square leaves its result unrelinearised (degree 2: YASHE' under f², BFV with three parts). A
// linear layer combines degree-2 values as it does degree-1 ones (both are linear in the
// ciphertext), then relinearises each output before adding the bias: key switching runs once per
// output of the layer instead of once per input (100 instead of 845 in CryptoNets' layer 3), and
// its noise is added after the weights instead of being multiplied by them. A value is also
// relinearised before it is squared again or given a constant; the caller relinearises whatever is
// still of degree 2 at the end (relinearize_all).
//
// Ops supplies the primitive steps: Value; linear(map, inputs) (Σ w·x per output, no bias, outputs
// of the inputs' degree); relinearize(value) (no-op at degree 1); relinearize_all(values);
// add_scalar(value, c); square_unrelinearized(value); for_each(values, f) (f on every value, in
// any order or in parallel).
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "cryptonets/model/layers.hpp"

namespace cryptonets::inference {

template <class Ops>
class DeferredRelinearization : public Ops {
 public:
  using Value = typename Ops::Value;
  using Ops::Ops;

  // One output Σ_k w_k·inputs[k], of the inputs' degree.
  Value multiply_accumulate(std::span<const Value> inputs,
                            std::span<const model::LinearTerm> terms) {
    model::LinearMap single;
    single.inputs = inputs.size();
    single.outputs = 1;
    single.row_begin = {0, terms.size()};
    single.terms.assign(terms.begin(), terms.end());
    single.bias = {0};
    return std::move(this->linear(single, inputs)[0]);
  }

  void add_constant(Value& value, int64_t constant) {
    this->relinearize(value);  // a constant is added at degree 1
    this->add_scalar(value, constant);
  }

  void square(Value& value) {
    this->relinearize(value);
    this->square_unrelinearized(value);
  }

  std::vector<Value> apply_linear(const model::LinearMap& map, std::span<const Value> inputs) {
    std::vector<Value> outputs = this->linear(map, inputs);
    this->relinearize_all(outputs);
    for (size_t o = 0; o < outputs.size(); ++o) {
      if (map.bias[o] != 0) this->add_scalar(outputs[o], map.bias[o]);
    }
    return outputs;
  }

  void square_all(std::vector<Value>& values) {
    this->for_each(values, [this](Value& value) { square(value); });
  }
};

}  // namespace cryptonets::inference
