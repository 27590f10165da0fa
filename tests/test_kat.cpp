// The known-answer vectors of data/kat/ (INSECURE fixed seeds), recomputed from each file's own
// parameter lines and compared entry by entry: any change of behaviour in key generation,
// encryption, multiplication, relinearisation, decryption or the network runtime shows here.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cryptonets/ring/ntt.hpp"
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
