// Known-answer vectors of YASHE' (data/kat/, described in data/kat/README.md): the computation
// shared by the generator (generate_yashe_kat.cpp) and the default-suite check (test_kat.cpp).
//
// INSECURE by design: every vector is drawn from Prng::insecure_seeded(seed), a fixed-seed stream
// that must never protect real data. A vector pins explicit parameters (the primes of q, t, σ, the
// decomposition, the seed), never a preset whose meaning may change.
//
// A vector file is plain text: '#' comment lines, then one "name = value" line per entry. The
// parameter entries come first and are the generator's input; every other entry is an output.
#pragma once

#include <gmpxx.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/yashe/context.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"

namespace kat {

using namespace cryptonets;

// Ordered (name, value) entries of one vector.
using Entries = std::vector<std::pair<std::string, std::string>>;

inline std::string join(const std::vector<uint64_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i)
    out += (i ? " " : "") + std::to_string(values[i]);
  return out;
}

inline std::vector<uint64_t> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<uint64_t> values;
  uint64_t v = 0;
  while (in >> v)
    values.push_back(v);
  return values;
}

// Canonical serialisation of a polynomial of R_q, independent of the NTT layout: coefficient form,
// residue row i (prime q_i) after row i - 1, each residue in [0, q_i) as 8 bytes little-endian.
inline void hash_poly(Sha256& hash, RnsPoly p) {
  p.to_coefficient();
  for (uint64_t word : p.data()) {
    uint8_t bytes[8];
    for (int b = 0; b < 8; ++b)
      bytes[b] = static_cast<uint8_t>(word >> (8 * b));
    hash.update(bytes);
  }
}

inline std::string poly_digest(const std::vector<const RnsPoly*>& polys) {
  Sha256 hash;
  for (const RnsPoly* p : polys)
    hash_poly(hash, *p);
  return to_hex(hash.digest());
}

// The first `count` coefficients of residue row 0 (mod q_1), coefficient form.
inline std::string leading(RnsPoly p, size_t count = 4) {
  p.to_coefficient();
  return join(std::vector<uint64_t>(p.residues(0), p.residues(0) + count));
}

// A plaintext of R_t: n coefficients in [0, t) as 8 bytes little-endian each.
inline std::string plaintext_digest(const yashe::Plaintext& m) {
  Sha256 hash;
  for (uint64_t word : m.coeffs) {
    uint8_t bytes[8];
    for (int b = 0; b < 8; ++b)
      bytes[b] = static_cast<uint8_t>(word >> (8 * b));
    hash.update(bytes);
  }
  return to_hex(hash.digest());
}

inline std::string leading(const yashe::Plaintext& m, size_t count = 8) {
  return join(std::vector<uint64_t>(m.coeffs.begin(), m.coeffs.begin() + count));
}

// The two messages of the scheme vector, defined by formula so that any implementation can build
// them: m1_j = (2654435761·j + 12345) mod t, m2_j = (40503·j² + 7) mod t, for j < n.
inline yashe::Plaintext message(size_t which, size_t n, uint64_t t) {
  yashe::Plaintext m;
  for (uint64_t j = 0; j < n; ++j) {
    const unsigned __int128 v = which == 1 ? (unsigned __int128)2654435761u * j + 12345
                                           : (unsigned __int128)40503u * j * j + 7;
    m.coeffs.push_back(static_cast<uint64_t>(v % t));
  }
  return m;
}

inline std::string lookup(const Entries& entries, const std::string& name) {
  for (const auto& [key, value] : entries)
    if (key == name) return value;
  throw std::runtime_error("known-answer vector: no entry '" + name + "'");
}

inline yashe::Parameters parameters_of(const Entries& input) {
  yashe::Parameters p;
  p.n = std::stoull(lookup(input, "n"));
  p.q_primes = split_words(lookup(input, "q_primes"));
  p.t = std::stoull(lookup(input, "t"));
  p.sigma = std::stod(lookup(input, "sigma"));
  p.decomposition_bits = std::stoi(lookup(input, "decomposition_bits"));
  p.validate();
  return p;
}

// Scheme vector. Inputs: n, q_primes, t, sigma, decomposition_bits, seed. With
// prng = insecure_seeded(seed): keys = generate_keys(prng); c1 = Enc(m1), c2 = Enc(m2) in that
// order; the product c1·c2 before and after relinearisation; each decrypted.
inline Entries scheme_vector(const Entries& input) {
  const yashe::Parameters params = parameters_of(input);
  const auto context = yashe::Context::create(params);
  Prng prng = Prng::insecure_seeded(std::stoull(lookup(input, "seed")));
  const yashe::KeySet keys = yashe::generate_keys(context, prng);
  const yashe::Encryptor encryptor(context, keys.public_key);
  const yashe::Decryptor decryptor(context, keys.secret_key);
  const yashe::Evaluator evaluator(context, keys.evaluation_key);
  const yashe::Plaintext m1 = message(1, params.n, params.t), m2 = message(2, params.n, params.t);
  const yashe::Ciphertext c1 = encryptor.encrypt(m1, prng), c2 = encryptor.encrypt(m2, prng);
  const yashe::Ciphertext product = evaluator.multiply_without_relinearization(c1, c2);
  yashe::Ciphertext relinearised = product;
  evaluator.relinearize_inplace(relinearised);

  Entries out;
  out.emplace_back("key_id", std::to_string(keys.secret_key.key_id));
  std::string f_prime;
  for (size_t j = 0; j < 16; ++j)
    f_prime += (j ? " " : "") + std::to_string(keys.secret_key.f_prime[j]);
  std::vector<uint8_t> f_bytes;
  for (int8_t c : keys.secret_key.f_prime)
    f_bytes.push_back(static_cast<uint8_t>(c));
  out.emplace_back("secret_key.f_prime.sha256", to_hex(sha256(f_bytes)));
  out.emplace_back("secret_key.f_prime.leading", f_prime);
  out.emplace_back("public_key.h.sha256", poly_digest({&keys.public_key.h}));
  out.emplace_back("public_key.h.leading", leading(keys.public_key.h));
  std::vector<const RnsPoly*> gammas;
  for (const RnsPoly& g : keys.evaluation_key.gamma)
    gammas.push_back(&g);
  out.emplace_back("evaluation_key.count", std::to_string(gammas.size()));
  out.emplace_back("evaluation_key.gamma.sha256", poly_digest(gammas));
  out.emplace_back("evaluation_key.gamma_1.leading", leading(keys.evaluation_key.gamma[0]));
  out.emplace_back("m1.sha256", plaintext_digest(m1));
  out.emplace_back("m2.sha256", plaintext_digest(m2));
  out.emplace_back("c1.sha256", poly_digest({&c1.parts[0]}));
  out.emplace_back("c1.leading", leading(c1.parts[0]));
  out.emplace_back("c2.sha256", poly_digest({&c2.parts[0]}));
  out.emplace_back("c2.leading", leading(c2.parts[0]));
  out.emplace_back("decrypt_c1.sha256", plaintext_digest(decryptor.decrypt(c1)));
  out.emplace_back("product.sha256", poly_digest({&product.parts[0]}));
  out.emplace_back("product.leading", leading(product.parts[0]));
  const yashe::Plaintext product_plain = decryptor.decrypt(product);
  out.emplace_back("decrypt_product.sha256", plaintext_digest(product_plain));
  out.emplace_back("decrypt_product.leading", leading(product_plain));
  out.emplace_back("relinearised.sha256", poly_digest({&relinearised.parts[0]}));
  out.emplace_back("relinearised.leading", leading(relinearised.parts[0]));
  const yashe::Plaintext relinearised_plain = decryptor.decrypt(relinearised);
  out.emplace_back("decrypt_relinearised.sha256", plaintext_digest(relinearised_plain));
  out.emplace_back("decrypt_relinearised.leading", leading(relinearised_plain));
  return out;
}

// Network vector. Inputs: n, q_primes, sigma, decomposition_bits, plaintext_moduli, seed, images
// (the first that many MNIST test images), model (path under the repository root) and
// model.sha256. With prng = insecure_seeded(seed): CrtKeys::generate (one key set per plaintext
// modulus, in order), encrypt_batch, infer, decrypt_scores. The thread count does not change any
// output (forked generators are drawn in a fixed order).
inline Entries network_vector(const Entries& input, const std::string& repository_root,
                              int threads) {
  yashe::Parameters base;
  base.n = std::stoull(lookup(input, "n"));
  base.q_primes = split_words(lookup(input, "q_primes"));
  base.sigma = std::stod(lookup(input, "sigma"));
  base.decomposition_bits = std::stoi(lookup(input, "decomposition_bits"));
  const std::vector<uint64_t> moduli = split_words(lookup(input, "plaintext_moduli"));
  base.t = moduli.at(0);
  base.validate();
  // The model is identified by its SHA-256. data/kat/ keeps a frozen copy of every model a vector
  // names (model-<first 8 hex digits>.txt), so an edit of the shipped file's comment lines does not
  // orphan the vector; test_kat checks that the shipped model's weights still equal the copy's.
  const std::string sha = lookup(input, "model.sha256");
  const auto digest_of = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return to_hex(sha256({reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
  };
  std::string model_path = repository_root + "/" + lookup(input, "model");
  if (digest_of(model_path) != sha) {
    model_path = repository_root + "/data/kat/model-" + sha.substr(0, 8) + ".txt";
    if (digest_of(model_path) != sha) {
      throw std::runtime_error("known-answer vector: neither " + repository_root + "/" +
                               lookup(input, "model") + " nor " + model_path +
                               " is the model it names (SHA-256 " + sha + ")");
    }
  }
  const model::Model model = load_model(model_path);
  const MnistSet test = load_mnist(repository_root + "/data/mnist", MnistSplit::kTest);
  const size_t count = std::stoull(lookup(input, "images"));
  const auto images = quantised_images(model, test.images, 0, count);

  Prng prng = Prng::insecure_seeded(std::stoull(lookup(input, "seed")));
  const encoding::CrtKeys keys = encoding::CrtKeys::generate(base, moduli, prng);
  const encoding::CrtEncryptionSet server(keys);
  const encoding::CrtDecryptionSet client(keys);
  inference::EncryptedBatch batch = inference::encrypt_batch(server, model, images, prng, threads);
  Entries out;
  std::vector<const RnsPoly*> first_inputs;
  for (const auto& per_modulus : batch.values)
    first_inputs.push_back(&per_modulus.front().parts[0]);
  out.emplace_back("input_1.sha256", poly_digest(first_inputs));
  inference::InferenceOptions options;
  options.threads = threads;
  const inference::EncryptedBatch scores =
      inference::infer(server, model::compile_model(model), std::move(batch), options);
  const auto decrypted =
      inference::decrypt_scores(client, scores, model::track_ranges(model).output().bound);
  for (size_t s = 0; s < count; ++s) {
    std::string row;
    for (size_t c = 0; c < decrypted[s].size(); ++c)
      row += (c ? " " : "") + decrypted[s][c].get_str();
    out.emplace_back("scores." + std::to_string(s + 1), row);
  }
  return out;
}

// Reads "name = value" lines (skipping '#' comments and blank lines), in file order.
inline Entries read_vector(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("known-answer vector: cannot open " + path);
  Entries entries;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find(" = ");
    if (eq == std::string::npos) throw std::runtime_error(path + ": bad line '" + line + "'");
    entries.emplace_back(line.substr(0, eq), line.substr(eq + 3));
  }
  return entries;
}

}  // namespace kat
