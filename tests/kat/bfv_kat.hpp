// Known-answer vectors of BFV at n = 8192 (digests) and of both schemes at a small size (every
// value in full): the computation shared by the generator (generate_bfv_kat.cpp) and the
// default-suite check (test_kat.cpp). Format and meaning: data/kat/README.md.
//
// INSECURE by design: every vector is drawn from Prng::insecure_seeded(seed), a fixed-seed stream
// that must never protect real data. A vector pins explicit parameters (the primes of q, t, σ, the
// decomposition, the seed), never a preset whose meaning may change.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cryptonets/bfv/encryptor.hpp"
#include "cryptonets/bfv/evaluator.hpp"
#include "cryptonets/bfv/key_generator.hpp"
#include "cryptonets/random/samplers.hpp"
#include "yashe_kat.hpp"

namespace kat {

inline bfv::Parameters bfv_parameters_of(const Entries& input) {
  bfv::Parameters p;
  p.n = std::stoull(lookup(input, "n"));
  p.q_primes = split_words(lookup(input, "q_primes"));
  p.t = std::stoull(lookup(input, "t"));
  p.sigma = std::stod(lookup(input, "sigma"));
  p.decomposition_bits = std::stoi(lookup(input, "decomposition_bits"));
  p.validate();
  return p;
}

inline std::string signed_digest(const std::vector<int8_t>& coefficients) {
  std::vector<uint8_t> bytes;
  for (int8_t c : coefficients)
    bytes.push_back(static_cast<uint8_t>(c));
  return to_hex(sha256(bytes));
}

inline std::string signed_leading(const std::vector<int8_t>& coefficients, size_t count) {
  std::string out;
  for (size_t j = 0; j < count && j < coefficients.size(); ++j)
    out += (j ? " " : "") + std::to_string(coefficients[j]);
  return out;
}

inline std::vector<const RnsPoly*> parts_of(const std::vector<const rlwe::Ciphertext*>& cts) {
  std::vector<const RnsPoly*> parts;
  for (const rlwe::Ciphertext* ct : cts)
    for (const RnsPoly& p : ct->parts)
      parts.push_back(&p);
  return parts;
}

// The objects of one scheme vector, computed in this order from prng = insecure_seeded(seed):
// keys = generate_keys(prng); c1 = Enc(m1, prng); c2 = Enc(m2, prng); product = c1·c2 (not
// relinearised); relinearised = relinearise(product). Messages m1, m2 as in yashe_kat.hpp.
template <class KeySet>
struct SchemeRun {
  KeySet keys;
  rlwe::Plaintext m1, m2;
  rlwe::Ciphertext c1, c2, product, relinearised;
  rlwe::Plaintext decrypt_c1, decrypt_product, decrypt_relinearised;
};

inline SchemeRun<bfv::KeySet> run_bfv(const Entries& input) {
  const bfv::Parameters params = bfv_parameters_of(input);
  const auto context = bfv::Context::create(params);
  Prng prng = Prng::insecure_seeded(std::stoull(lookup(input, "seed")));
  SchemeRun<bfv::KeySet> r;
  r.keys = bfv::generate_keys(context, prng);
  const bfv::Encryptor encryptor(context, r.keys.public_key);
  const bfv::Decryptor decryptor(context, r.keys.secret_key);
  const bfv::Evaluator evaluator(context, r.keys.relinearization_key);
  r.m1 = message(1, params.n, params.t);
  r.m2 = message(2, params.n, params.t);
  r.c1 = encryptor.encrypt(r.m1, prng);
  r.c2 = encryptor.encrypt(r.m2, prng);
  r.product = evaluator.multiply_without_relinearization(r.c1, r.c2);
  r.relinearised = r.product;
  evaluator.relinearize_inplace(r.relinearised);
  r.decrypt_c1 = decryptor.decrypt(r.c1);
  r.decrypt_product = decryptor.decrypt(r.product);
  r.decrypt_relinearised = decryptor.decrypt(r.relinearised);
  return r;
}

inline SchemeRun<yashe::KeySet> run_yashe(const Entries& input) {
  const yashe::Parameters params = parameters_of(input);
  const auto context = yashe::Context::create(params);
  Prng prng = Prng::insecure_seeded(std::stoull(lookup(input, "seed")));
  SchemeRun<yashe::KeySet> r;
  r.keys = yashe::generate_keys(context, prng);
  const yashe::Encryptor encryptor(context, r.keys.public_key);
  const yashe::Decryptor decryptor(context, r.keys.secret_key);
  const yashe::Evaluator evaluator(context, r.keys.evaluation_key);
  r.m1 = message(1, params.n, params.t);
  r.m2 = message(2, params.n, params.t);
  r.c1 = encryptor.encrypt(r.m1, prng);
  r.c2 = encryptor.encrypt(r.m2, prng);
  r.product = evaluator.multiply_without_relinearization(r.c1, r.c2);
  r.relinearised = r.product;
  evaluator.relinearize_inplace(r.relinearised);
  r.decrypt_c1 = decryptor.decrypt(r.c1);
  r.decrypt_product = decryptor.decrypt(r.product);
  r.decrypt_relinearised = decryptor.decrypt(r.relinearised);
  return r;
}

// BFV scheme vector at a real size: digests of every object and its first coefficients. Inputs:
// kind = bfv-scheme, n, q_primes, t, sigma, decomposition_bits, seed.
inline Entries bfv_scheme_vector(const Entries& input) {
  const SchemeRun<bfv::KeySet> r = run_bfv(input);
  const bfv::RelinearizationKey& rlk = r.keys.relinearization_key;
  Entries out;
  out.emplace_back("key_id", std::to_string(r.keys.secret_key.key_id));
  out.emplace_back("secret_key.s.sha256", signed_digest(r.keys.secret_key.coefficients));
  out.emplace_back("secret_key.s.leading", signed_leading(r.keys.secret_key.coefficients, 16));
  out.emplace_back("public_key.sha256",
                   poly_digest({&r.keys.public_key.p0, &r.keys.public_key.p1}));
  out.emplace_back("public_key.p0.leading", leading(r.keys.public_key.p0));
  out.emplace_back("public_key.p1.leading", leading(r.keys.public_key.p1));
  std::vector<const RnsPoly*> rlk_polys;
  for (size_t d = 0; d < rlk.b.size(); ++d) {
    rlk_polys.push_back(&rlk.b[d]);
    rlk_polys.push_back(&rlk.a[d]);
  }
  out.emplace_back("relinearization_key.count", std::to_string(rlk.b.size()));
  out.emplace_back("relinearization_key.sha256", poly_digest(rlk_polys));
  out.emplace_back("relinearization_key.b_1.leading", leading(rlk.b[0]));
  out.emplace_back("relinearization_key.a_1.leading", leading(rlk.a[0]));
  out.emplace_back("m1.sha256", plaintext_digest(r.m1));
  out.emplace_back("m2.sha256", plaintext_digest(r.m2));
  out.emplace_back("c1.sha256", poly_digest(parts_of({&r.c1})));
  out.emplace_back("c1.part_0.leading", leading(r.c1.parts[0]));
  out.emplace_back("c1.part_1.leading", leading(r.c1.parts[1]));
  out.emplace_back("c2.sha256", poly_digest(parts_of({&r.c2})));
  out.emplace_back("c2.part_0.leading", leading(r.c2.parts[0]));
  out.emplace_back("decrypt_c1.sha256", plaintext_digest(r.decrypt_c1));
  out.emplace_back("product.sha256", poly_digest(parts_of({&r.product})));
  out.emplace_back("product.part_2.leading", leading(r.product.parts[2]));
  out.emplace_back("decrypt_product.sha256", plaintext_digest(r.decrypt_product));
  out.emplace_back("decrypt_product.leading", leading(r.decrypt_product));
  out.emplace_back("relinearised.sha256", poly_digest(parts_of({&r.relinearised})));
  out.emplace_back("relinearised.part_0.leading", leading(r.relinearised.parts[0]));
  out.emplace_back("decrypt_relinearised.sha256", plaintext_digest(r.decrypt_relinearised));
  out.emplace_back("decrypt_relinearised.leading", leading(r.decrypt_relinearised));
  return out;
}

// Every residue of a polynomial of R_q in coefficient form: one entry per prime,
// "<name>.q_<i> = a_0 a_1 ... a_{n-1}" (residues mod q_i in [0, q_i)).
inline void put_poly(Entries& out, const std::string& name, RnsPoly p) {
  p.to_coefficient();
  for (size_t i = 0; i < p.rns_size(); ++i)
    out.emplace_back(name + ".q_" + std::to_string(i + 1),
                     join(std::vector<uint64_t>(p.residues(i), p.residues(i) + p.n())));
}

inline void put_plain(Entries& out, const std::string& name, const rlwe::Plaintext& m) {
  out.emplace_back(name, join(m.coeffs));
}

inline void put_ciphertext(Entries& out, const std::string& name, const rlwe::Ciphertext& ct) {
  out.emplace_back(name + ".degree", std::to_string(ct.degree));
  if (ct.parts.size() == 1) {
    put_poly(out, name, ct.parts[0]);
    return;
  }
  for (size_t k = 0; k < ct.parts.size(); ++k)
    put_poly(out, name + ".part_" + std::to_string(k), ct.parts[k]);
}

template <class KeySet>
void put_messages_and_results(Entries& out, const SchemeRun<KeySet>& r) {
  put_plain(out, "m1", r.m1);
  put_plain(out, "m2", r.m2);
  put_ciphertext(out, "c1", r.c1);
  put_ciphertext(out, "c2", r.c2);
  put_plain(out, "decrypt_c1", r.decrypt_c1);
  put_ciphertext(out, "product", r.product);
  put_plain(out, "decrypt_product", r.decrypt_product);
  put_ciphertext(out, "relinearised", r.relinearised);
  put_plain(out, "decrypt_relinearised", r.decrypt_relinearised);
}

// Small-size vectors with every value written out (coefficient form), for reading and for
// checking another implementation's deterministic steps (multiply, relinearise, decrypt) on our
// keys and ciphertexts without reproducing our random stream. Inputs: kind = yashe-scheme-full or
// bfv-scheme-full, n, q_primes, t, sigma, decomposition_bits, seed.
inline Entries full_scheme_vector(const Entries& input) {
  Entries out;
  const std::string kind = lookup(input, "kind");
  if (kind == "yashe-scheme-full") {
    const SchemeRun<yashe::KeySet> r = run_yashe(input);
    out.emplace_back("key_id", std::to_string(r.keys.secret_key.key_id));
    out.emplace_back("secret_key.f_prime", signed_leading(r.keys.secret_key.f_prime, SIZE_MAX));
    put_poly(out, "public_key.h", r.keys.public_key.h);
    out.emplace_back("evaluation_key.count", std::to_string(r.keys.evaluation_key.gamma.size()));
    for (size_t d = 0; d < r.keys.evaluation_key.gamma.size(); ++d)
      put_poly(out, "evaluation_key.gamma_" + std::to_string(d + 1),
               r.keys.evaluation_key.gamma[d]);
    put_messages_and_results(out, r);
  } else if (kind == "bfv-scheme-full") {
    const SchemeRun<bfv::KeySet> r = run_bfv(input);
    const bfv::RelinearizationKey& rlk = r.keys.relinearization_key;
    out.emplace_back("key_id", std::to_string(r.keys.secret_key.key_id));
    out.emplace_back("secret_key.s", signed_leading(r.keys.secret_key.coefficients, SIZE_MAX));
    put_poly(out, "public_key.p0", r.keys.public_key.p0);
    put_poly(out, "public_key.p1", r.keys.public_key.p1);
    out.emplace_back("relinearization_key.count", std::to_string(rlk.b.size()));
    for (size_t d = 0; d < rlk.b.size(); ++d) {
      put_poly(out, "relinearization_key.b_" + std::to_string(d + 1), rlk.b[d]);
      put_poly(out, "relinearization_key.a_" + std::to_string(d + 1), rlk.a[d]);
    }
    put_messages_and_results(out, r);
  } else {
    throw std::runtime_error("known-answer vector: unknown kind '" + kind + "'");
  }
  return out;
}

// The random stream and the samplers, each from a fresh insecure_seeded(seed): the first steps an
// implementation that wants our keys bit for bit must reproduce. Inputs: kind = samplers, seed,
// q (a bound for the uniform sampler), sigma.
inline Entries sampler_vector(const Entries& input) {
  const uint64_t seed = std::stoull(lookup(input, "seed"));
  const uint64_t q = std::stoull(lookup(input, "q"));
  const double sigma = std::stod(lookup(input, "sigma"));
  Entries out;
  {
    Prng prng = Prng::insecure_seeded(seed);
    std::array<uint8_t, 64> block{};
    prng.fill(block);
    std::string hex;
    for (uint8_t b : block) {
      static constexpr char kDigits[] = "0123456789abcdef";
      hex += kDigits[b >> 4];
      hex += kDigits[b & 15];
    }
    out.emplace_back("stream.first_64_bytes", hex);
  }
  {
    Prng prng = Prng::insecure_seeded(seed);
    std::vector<uint64_t> words;
    for (int i = 0; i < 4; ++i)
      words.push_back(prng.next_u64());
    out.emplace_back("next_u64.first_4", join(words));
  }
  {
    Prng prng = Prng::insecure_seeded(seed);
    std::vector<uint64_t> values;
    for (int i = 0; i < 16; ++i)
      values.push_back(sample_uniform_below(prng, q));
    out.emplace_back("uniform_below_q.first_16", join(values));
  }
  const auto signed_join = [](const std::vector<int64_t>& values) {
    std::string text;
    for (size_t i = 0; i < values.size(); ++i)
      text += (i ? " " : "") + std::to_string(values[i]);
    return text;
  };
  {
    Prng prng = Prng::insecure_seeded(seed);
    out.emplace_back("ternary.first_32", signed_join(sample_ternary(prng, 32)));
  }
  {
    Prng prng = Prng::insecure_seeded(seed);
    out.emplace_back("gaussian.first_32",
                     signed_join(DiscreteGaussian(sigma).sample_vector(prng, 32)));
  }
  return out;
}

// A polynomial of R_q read back from its "<name>.q_<i>" entries (coefficient form).
inline RnsPoly read_poly(const Entries& entries, const std::string& name,
                         const std::shared_ptr<const RingContext>& ring) {
  RnsPoly p(ring, PolyForm::coefficient);
  for (size_t i = 0; i < ring->rns_size(); ++i) {
    const std::vector<uint64_t> row =
        split_words(lookup(entries, name + ".q_" + std::to_string(i + 1)));
    if (row.size() != ring->n())
      throw std::runtime_error("known-answer vector: " + name + " has a row of the wrong length");
    std::copy(row.begin(), row.end(), p.residues(i));
  }
  return p;
}

inline rlwe::Ciphertext read_ciphertext(const Entries& entries, const std::string& name,
                                        const std::shared_ptr<const RingContext>& ring,
                                        size_t parts, uint64_t key_id) {
  rlwe::Ciphertext ct;
  ct.degree = std::stoi(lookup(entries, name + ".degree"));
  ct.key_id = key_id;
  if (parts == 1) {
    ct.parts.push_back(read_poly(entries, name, ring));
  } else {
    for (size_t k = 0; k < parts; ++k)
      ct.parts.push_back(read_poly(entries, name + ".part_" + std::to_string(k), ring));
  }
  return ct;
}

inline rlwe::Plaintext read_plain(const Entries& entries, const std::string& name) {
  return rlwe::Plaintext{split_words(lookup(entries, name))};
}

}  // namespace kat
