// The known-answer vectors of data/kat/ (INSECURE fixed seeds), recomputed from each file's own
// parameter lines and compared entry by entry: any change of behaviour in key generation,
// encryption, multiplication, relinearisation, decryption or the network runtime shows here.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cryptonets/bfv/reference.hpp"
#include "cryptonets/ring/ntt.hpp"
#include "cryptonets/rlwe/reference.hpp"
#include "cryptonets/yashe/reference.hpp"
#include "kat/bfv_kat.hpp"
#include "kat/yashe_kat.hpp"
#include "nn_test_support.hpp"

namespace {

// The entries up to and including the last parameter line are inputs; the rest are outputs.
std::pair<kat::Entries, kat::Entries> split(const kat::Entries& all,
                                            const std::string& last_input) {
  kat::Entries inputs, outputs;
  bool in_outputs = false;
  for (const auto& entry : all) {
    (in_outputs ? outputs : inputs).push_back(entry);
    if (entry.first == last_input) in_outputs = true;
  }
  return {inputs, outputs};
}

void check_entries(const kat::Entries& expected, const kat::Entries& actual) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("entry " << expected[i].first);
    CHECK(actual[i].first == expected[i].first);
    CHECK(actual[i].second == expected[i].second);
  }
}

std::string kat_file(const std::string& name) {
  return (test_support::repository_root() / "data/kat" / name).string();
}

void check_network(const std::string& file) {
  const auto [inputs, outputs] = split(kat::read_vector(kat_file(file)), "model.sha256");
  REQUIRE(kat::lookup(inputs, "kind") == "yashe-network");
  const std::string root = test_support::repository_root().string();
  check_entries(outputs, kat::network_vector(inputs, root, 2));
}

}  // namespace

TEST_CASE("YASHE' keys, ciphertexts, product and relinearised product at n = 8192 match data/kat") {
  const auto [inputs, outputs] =
      split(kat::read_vector(kat_file("yashe_scheme_n8192.txt")), "seed");
  REQUIRE(kat::lookup(inputs, "kind") == "yashe-scheme");
  check_entries(outputs, kat::scheme_vector(inputs));
  // The decrypted product is m1·m2 in R_t, whatever the implementation: the digest of m1·m2
  // computed here with the plain ring must be the file's.
  const cryptonets::yashe::Parameters p = kat::parameters_of(inputs);
  cryptonets::NttTables ntt(p.n, cryptonets::Modulus(p.t));
  auto a = kat::message(1, p.n, p.t), b = kat::message(2, p.n, p.t);
  ntt.forward(a.coeffs.data());
  ntt.forward(b.coeffs.data());
  for (size_t j = 0; j < p.n; ++j)
    a.coeffs[j] = cryptonets::mul_mod(a.coeffs[j], b.coeffs[j], cryptonets::Modulus(p.t));
  ntt.inverse(a.coeffs.data());
  CHECK(kat::plaintext_digest(a) == kat::lookup(outputs, "decrypt_relinearised.sha256"));
  CHECK(kat::plaintext_digest(a) == kat::lookup(outputs, "decrypt_product.sha256"));
  CHECK(kat::plaintext_digest(kat::message(1, p.n, p.t)) ==
        kat::lookup(outputs, "decrypt_c1.sha256"));
}

TEST_CASE("The shipped model's encrypted MNIST scores at n = 1024 match data/kat") {
  check_network("yashe_network_n1024.txt");
}

TEST_CASE("The shipped model's encrypted MNIST scores at n = 8192 match data/kat" *
          doctest::test_suite("slow")) {
  check_network("yashe_network_n8192.txt");
}

TEST_CASE("The shipped model's weights equal the frozen copy the network vectors name") {
  // data/model.txt may change its comment lines (issue 21 corrected one); its layers may not,
  // or the vectors would no longer describe the shipped model.
  const auto layer_lines = [](const std::filesystem::path& path) {
    std::ifstream in(path);
    REQUIRE(in);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
      if (!line.starts_with("#")) lines.push_back(line);
    return lines;
  };
  const auto root = test_support::repository_root();
  const auto shipped = layer_lines(root / "data/model.txt");
  CHECK(shipped.size() > 5);
  CHECK(shipped == layer_lines(root / "data/kat/model-5e29352d.txt"));
}

namespace {

// m1·m2 in Z_t[x]/(x^n + 1) by the schoolbook formula (x^n = -1): what any correct implementation
// decrypts the product to, whatever its randomness.
cryptonets::rlwe::Plaintext negacyclic_product_mod_t(const cryptonets::rlwe::Plaintext& a,
                                                     const cryptonets::rlwe::Plaintext& b,
                                                     uint64_t t) {
  const size_t n = a.coeffs.size();
  std::vector<unsigned __int128> sum(n, 0);  // holds Σ a_i·b_j + n·t² < 2^128 for t < 2^60
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      const unsigned __int128 term = (unsigned __int128)a.coeffs[i] * b.coeffs[j] % t;
      if (i + j < n)
        sum[i + j] += term;
      else
        sum[i + j - n] += t - term;
    }
  cryptonets::rlwe::Plaintext out;
  for (const auto& s : sum)
    out.coeffs.push_back(static_cast<uint64_t>(s % t));
  return out;
}

// The same with the NTT mod t (t ≡ 1 mod 2n), for n = 8192.
cryptonets::rlwe::Plaintext ntt_product_mod_t(cryptonets::rlwe::Plaintext a,
                                              cryptonets::rlwe::Plaintext b, uint64_t t) {
  const size_t n = a.coeffs.size();
  cryptonets::NttTables ntt(n, cryptonets::Modulus(t));
  ntt.forward(a.coeffs.data());
  ntt.forward(b.coeffs.data());
  for (size_t j = 0; j < n; ++j)
    a.coeffs[j] = cryptonets::mul_mod(a.coeffs[j], b.coeffs[j], cryptonets::Modulus(t));
  ntt.inverse(a.coeffs.data());
  return a;
}

}  // namespace

TEST_CASE("BFV keys, ciphertexts, product and relinearised product at n = 8192 match data/kat") {
  const auto [inputs, outputs] = split(kat::read_vector(kat_file("bfv_scheme_n8192.txt")), "seed");
  REQUIRE(kat::lookup(inputs, "kind") == "bfv-scheme");
  check_entries(outputs, kat::bfv_scheme_vector(inputs));
  // Independent of any implementation: the messages and the decrypted product m1·m2.
  const cryptonets::bfv::Parameters p = kat::bfv_parameters_of(inputs);
  const auto m1 = kat::message(1, p.n, p.t), m2 = kat::message(2, p.n, p.t);
  const std::string product = kat::plaintext_digest(ntt_product_mod_t(m1, m2, p.t));
  CHECK(product == kat::lookup(outputs, "decrypt_product.sha256"));
  CHECK(product == kat::lookup(outputs, "decrypt_relinearised.sha256"));
  CHECK(kat::plaintext_digest(m1) == kat::lookup(outputs, "decrypt_c1.sha256"));
}

TEST_CASE("YASHE' and BFV at n = 16 match data/kat value for value") {
  for (const char* file : {"yashe_scheme_n16.txt", "bfv_scheme_n16.txt"}) {
    INFO(file);
    const auto [inputs, outputs] = split(kat::read_vector(kat_file(file)), "seed");
    check_entries(outputs, kat::full_scheme_vector(inputs));
  }
}

TEST_CASE("The random stream and the samplers match data/kat") {
  const auto [inputs, outputs] =
      split(kat::read_vector(kat_file("samplers_seed18004.txt")), "sigma");
  REQUIRE(kat::lookup(inputs, "kind") == "samplers");
  check_entries(outputs, kat::sampler_vector(inputs));
}

TEST_CASE("The n = 16 vectors satisfy the textbook formulas, read from the files alone") {
  // What another implementation checks without our random stream: from the file's keys and
  // ciphertexts, multiply, relinearise and decrypt by the GMP reference twins (the formulas
  // written out) and compare with the file's outputs.
  using namespace cryptonets;
  {
    const auto [inputs, outputs] = split(kat::read_vector(kat_file("bfv_scheme_n16.txt")), "seed");
    const bfv::Parameters p = kat::bfv_parameters_of(inputs);
    const auto context = bfv::Context::create(p);
    const auto& ring = context->ring();
    const uint64_t key_id = std::stoull(kat::lookup(outputs, "key_id"));
    bfv::SecretKey sk;
    sk.key_id = key_id;
    std::vector<int64_t> s;
    std::istringstream in(kat::lookup(outputs, "secret_key.s"));
    for (int64_t c; in >> c;) {
      s.push_back(c);
      sk.coefficients.push_back(static_cast<int8_t>(c));
    }
    REQUIRE(s.size() == p.n);
    sk.s = RnsPoly::from_signed(ring, s);
    sk.s.to_evaluation();
    bfv::RelinearizationKey rlk;
    rlk.key_id = key_id;
    const size_t digits = std::stoull(kat::lookup(outputs, "relinearization_key.count"));
    for (size_t d = 1; d <= digits; ++d) {
      rlk.b.push_back(kat::read_poly(outputs, "relinearization_key.b_" + std::to_string(d), ring));
      rlk.a.push_back(kat::read_poly(outputs, "relinearization_key.a_" + std::to_string(d), ring));
      rlk.b.back().to_evaluation();
      rlk.a.back().to_evaluation();
    }
    const auto c1 = kat::read_ciphertext(outputs, "c1", ring, 2, key_id);
    const auto c2 = kat::read_ciphertext(outputs, "c2", ring, 2, key_id);
    const auto product = kat::read_ciphertext(outputs, "product", ring, 3, key_id);
    const auto relinearised = kat::read_ciphertext(outputs, "relinearised", ring, 2, key_id);
    const auto m1 = kat::read_plain(outputs, "m1"), m2 = kat::read_plain(outputs, "m2");
    CHECK(m1.coeffs == kat::message(1, p.n, p.t).coeffs);
    CHECK(m2.coeffs == kat::message(2, p.n, p.t).coeffs);
    CHECK(bfv::reference::decrypt(*context, sk, c1).coeffs == m1.coeffs);
    CHECK(bfv::reference::decrypt(*context, sk, c2).coeffs == m2.coeffs);
    CHECK(bfv::reference::multiply_without_relinearization(*context, c1, c2).parts ==
          product.parts);
    CHECK(bfv::reference::relinearize(*context, rlk, product).parts == relinearised.parts);
    const auto expected = negacyclic_product_mod_t(m1, m2, p.t);
    CHECK(bfv::reference::decrypt(*context, sk, product).coeffs == expected.coeffs);
    CHECK(bfv::reference::decrypt(*context, sk, relinearised).coeffs == expected.coeffs);
    CHECK(kat::read_plain(outputs, "decrypt_relinearised").coeffs == expected.coeffs);
    // The public key is an RLWE sample of s: p0 + p1·s = -e is small.
    RnsPoly e = kat::read_poly(outputs, "public_key.p1", ring);
    e.to_evaluation();
    e *= sk.s;
    RnsPoly p0 = kat::read_poly(outputs, "public_key.p0", ring);
    p0.to_evaluation();
    e += p0;
    e.to_coefficient();
    for (const mpz_class& x : e.to_bigint_centered())
      CHECK(abs(x) <= 20);  // |e_j| <= 6σ
  }
  {
    const auto [inputs, outputs] =
        split(kat::read_vector(kat_file("yashe_scheme_n16.txt")), "seed");
    const yashe::Parameters p = kat::parameters_of(inputs);
    const auto context = yashe::Context::create(p);
    const auto& ring = context->ring();
    const uint64_t key_id = std::stoull(kat::lookup(outputs, "key_id"));
    yashe::SecretKey sk;
    sk.key_id = key_id;
    std::vector<int64_t> f;
    std::istringstream in(kat::lookup(outputs, "secret_key.f_prime"));
    for (int64_t c; in >> c;) {
      sk.f_prime.push_back(static_cast<int8_t>(c));
      f.push_back(static_cast<int64_t>(p.t) * c + (f.empty() ? 1 : 0));  // f = t·f' + 1
    }
    REQUIRE(f.size() == p.n);
    sk.f = RnsPoly::from_signed(ring, f);
    sk.f.to_evaluation();
    std::vector<RnsPoly> gamma;
    const size_t digits = std::stoull(kat::lookup(outputs, "evaluation_key.count"));
    for (size_t d = 1; d <= digits; ++d) {
      gamma.push_back(kat::read_poly(outputs, "evaluation_key.gamma_" + std::to_string(d), ring));
      gamma.back().to_evaluation();
    }
    const auto c1 = kat::read_ciphertext(outputs, "c1", ring, 1, key_id);
    const auto c2 = kat::read_ciphertext(outputs, "c2", ring, 1, key_id);
    const auto product = kat::read_ciphertext(outputs, "product", ring, 1, key_id);
    const auto relinearised = kat::read_ciphertext(outputs, "relinearised", ring, 1, key_id);
    const auto m1 = kat::read_plain(outputs, "m1"), m2 = kat::read_plain(outputs, "m2");
    CHECK(yashe::reference::decrypt(*context, sk, c1).coeffs == m1.coeffs);
    CHECK(yashe::reference::decrypt(*context, sk, c2).coeffs == m2.coeffs);
    CHECK(product.degree == 2);
    CHECK(yashe::reference::multiply_without_relinearization(*context, c1.parts[0], c2.parts[0]) ==
          product.parts[0]);
    CHECK(rlwe::reference::gadget_product(context->rns(), product.parts[0], gamma) ==
          relinearised.parts[0]);
    const auto expected = negacyclic_product_mod_t(m1, m2, p.t);
    CHECK(yashe::reference::decrypt(*context, sk, product).coeffs == expected.coeffs);
    CHECK(yashe::reference::decrypt(*context, sk, relinearised).coeffs == expected.coeffs);
    // The public key is h = t·g·f^-1: h·f = t·g with g ternary.
    RnsPoly hf = kat::read_poly(outputs, "public_key.h", ring);
    hf.to_evaluation();
    hf *= sk.f;
    hf.to_coefficient();
    for (const mpz_class& x : hf.to_bigint_centered()) {
      const mpz_class g = x / static_cast<unsigned long>(p.t);
      CHECK(x == g * static_cast<unsigned long>(p.t));
      CHECK(abs(g) <= 1);
    }
  }
}
