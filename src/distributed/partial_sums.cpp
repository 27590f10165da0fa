#include "cryptonets/distributed/partial_sums.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace cryptonets::distributed {

using model::LinearTerm;

// The rows of `block` (all inputs, biases kept).
LinearMap select_rows(const LinearMap& map, Block block) {
  LinearMap rows;
  rows.inputs = map.inputs;
  rows.outputs = block.size();
  rows.row_begin.push_back(0);
  for (size_t o = block.begin; o < block.end; ++o) {
    const auto terms = map.terms_of(o);
    rows.terms.insert(rows.terms.end(), terms.begin(), terms.end());
    rows.row_begin.push_back(rows.terms.size());
    rows.bias.push_back(map.bias[o]);
  }
  return rows;
}

// Every row restricted to the inputs of `block`, renumbered from 0; no bias (added once, by the
// output's owner, after the partial sums are reduced).
LinearMap restrict_inputs(const LinearMap& map, Block block) {
  LinearMap part;
  part.inputs = block.size();
  part.outputs = map.outputs;
  part.row_begin.push_back(0);
  for (size_t o = 0; o < map.outputs; ++o) {
    for (const LinearTerm& term : map.terms_of(o)) {
      if (block.contains(term.input)) {
        part.terms.push_back({static_cast<uint32_t>(term.input - block.begin), term.weight});
      }
    }
    part.row_begin.push_back(part.terms.size());
  }
  part.bias.assign(map.outputs, 0);
  return part;
}

// a += b mod q, residue by residue (both in [0, q_i): the sum is again the canonical residue).
void add_residues(rlwe::Ciphertext& a, const rlwe::Ciphertext& b, const RnsBase& base) {
  if (a.parts.size() != b.parts.size() || a.degree != b.degree || a.key_id != b.key_id) {
    throw std::runtime_error(
        "distributed inference: partial sums of different shapes, degrees or keys");
  }
  for (size_t p = 0; p < a.parts.size(); ++p) {
    const size_t n = a.parts[p].n();
    for (size_t i = 0; i < base.size(); ++i) {
      const uint64_t q = base[i].value();
      uint64_t* x = a.parts[p].residues(i);
      const uint64_t* y = b.parts[p].residues(i);
      for (size_t c = 0; c < n; ++c) {
        const uint64_t sum = x[c] + y[c];
        x[c] = sum >= q ? sum - q : sum;
      }
    }
  }
}

void append_ciphertexts(std::vector<uint8_t>& bytes, std::span<const rlwe::Ciphertext> values) {
  put_value(bytes, static_cast<uint64_t>(values.size()));
  for (const rlwe::Ciphertext& c : values) {
    put_value(bytes, static_cast<uint32_t>(c.parts.size()));
    put_value(bytes, static_cast<int32_t>(c.degree));
    put_value(bytes, static_cast<uint8_t>(c.transparent));
    put_value(bytes, c.key_id);
    put_value(bytes, c.noise_log2);
    for (const RnsPoly& part : c.parts) {
      put_value(bytes, static_cast<uint8_t>(part.form() == PolyForm::coefficient ? 0 : 1));
      const auto data = part.data();
      const size_t at = bytes.size();
      bytes.resize(at + data.size_bytes());
      std::memcpy(bytes.data() + at, data.data(), data.size_bytes());
    }
  }
}

std::vector<rlwe::Ciphertext> read_ciphertexts(std::span<const uint8_t> bytes,
                                               const std::shared_ptr<const RingContext>& ring) {
  ByteReader reader(bytes);
  const uint64_t count = reader.get<uint64_t>();
  if (count > bytes.size()) throw std::runtime_error("distributed inference: bad message");
  std::vector<rlwe::Ciphertext> values(count);
  for (rlwe::Ciphertext& c : values) {
    const uint32_t parts = reader.get<uint32_t>();
    if (parts == 0 || parts > 3) {
      throw std::runtime_error("distributed inference: a ciphertext of " + std::to_string(parts) +
                               " parts in a message");
    }
    c.degree = reader.get<int32_t>();
    c.transparent = reader.get<uint8_t>() != 0;
    c.key_id = reader.get<uint64_t>();
    c.noise_log2 = reader.get<double>();
    for (uint32_t p = 0; p < parts; ++p) {
      const PolyForm form =
          reader.get<uint8_t>() == 0 ? PolyForm::coefficient : PolyForm::evaluation;
      RnsPoly part(ring, form);
      const auto data = part.data();
      reader.read(data.data(), data.size_bytes());
      c.parts.push_back(std::move(part));
    }
  }
  if (!reader.done()) throw std::runtime_error("distributed inference: bytes after a message");
  return values;
}

}  // namespace cryptonets::distributed
