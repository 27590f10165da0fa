// The file formats, byte for byte (include/cryptonets/io/FORMATS.md): seeded, INSECURE toy key
// sets and ciphertext files of both schemes (n = 8, two 20-bit primes, t_1 = 241, t_2 = 193)
// written by the library must equal the committed hex dump tests/formats/protocol_v6.hex. A format
// change, deliberate or not, fails here; a deliberate one updates FORMATS.md, bumps the version and
// writes the new version's dump as a new file with CRYPTONETS_WRITE_FORMAT_DUMP=1 (never
// silently). The dumps of older versions stay: each of their files must be refused by name.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/bfv/encryptor.hpp"
#include "cryptonets/bfv/evaluator.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/io/inspect.hpp"
#include "cryptonets/io/little_endian.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/model_profile.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "file_test_support.hpp"
#include "nn_test_support.hpp"

using cryptonets::inference::EncryptedBatch;

using namespace cryptonets;
using test_support::TempDir;

namespace {

// "# name: N bytes", then 16 bytes per line: offset, hex bytes.
std::string hex_dump(const std::string& name, const std::string& bytes) {
  std::string text = "# " + name + ": " + std::to_string(bytes.size()) + " bytes\n";
  char cell[32];
  for (size_t line = 0; line < bytes.size(); line += 16) {
    std::snprintf(cell, sizeof cell, "%08zx ", line);
    text += cell;
    for (size_t i = line; i < std::min(bytes.size(), line + 16); ++i) {
      std::snprintf(cell, sizeof cell, " %02x",
                    static_cast<unsigned>(static_cast<uint8_t>(bytes[i])));
      text += cell;
    }
    text += "\n";
  }
  return text;
}

// A ciphertext file's id is random (from the OS): for fixed bytes, set it to kToyFileId and
// recompute what covers it, the header's SHA-256 and every record's binding (FORMATS.md §5).
constexpr uint64_t kToyFileId = 0x1818181818181818;

// The images file the toy ciphertexts were encrypted from (FORMATS.md §7): 7 images, and for its
// SHA-256 that of the ASCII text "cryptonets toy images" (there is no such file).
ImageSource toy_source() {
  const std::string text = "cryptonets toy images";
  return {7, sha256({reinterpret_cast<const uint8_t*>(text.data()), text.size()})};
}

// The model profile the toy ciphertexts were encrypted with (FORMATS.md §7): input 1 x 1 x 2 at
// scale 16, 2 outputs of at most 1000.
uint64_t toy_profile_fingerprint() {
  ModelProfile profile;
  profile.input_shape = {1, 1, 2};
  profile.input_scale = 16;
  profile.outputs = 2;
  profile.output_bound = 1000;
  return profile.fingerprint();
}

void fix_file_id(const std::string& path, size_t records) {
  std::string bytes = test_support::read_bytes(path);
  auto* data = reinterpret_cast<uint8_t*>(bytes.data());
  store_le(data + 64, kToyFileId, 8);
  const Sha256::Digest header_digest = sha256({data, kProtocolHeaderBytes - 32});
  std::copy(header_digest.begin(), header_digest.end(), data + kProtocolHeaderBytes - 32);
  size_t offset = kProtocolHeaderBytes;
  for (size_t index = 0; index < records; ++index) {
    const size_t record_end = offset + kSerializationHeaderBytes + load_le(data + offset + 24, 8);
    Sha256::Digest checksum{};
    std::copy(data + record_end, data + record_end + checksum.size(), checksum.begin());
    const auto binding = encode_binding(kToyFileId, index, records, checksum);
    std::copy(binding.begin(), binding.end(), data + record_end + checksum.size());
    offset = record_end + checksum.size() + binding.size();
  }
  REQUIRE(offset == bytes.size());
  test_support::write_bytes(path, bytes);
}

// The YASHE' toy objects of FORMATS.md §7, written to `dir`; returns their names in dump order.
std::vector<std::string> write_yashe_toy_files(const TempDir& dir) {
  yashe::Parameters base;
  base.n = 8;
  base.q_primes = generate_ntt_primes(20, 2, 16);
  base.t = 241;
  const std::vector<uint64_t> moduli = {241, 193};
  Prng prng = Prng::insecure_seeded(18);  // INSECURE: fixed bytes for the dump
  const encoding::CrtKeys keys = encoding::CrtKeys::generate(base, moduli, prng);
  std::vector<yashe::PublicKey> public_keys;
  std::vector<yashe::EvaluationKey> evaluation_keys;
  std::vector<yashe::SecretKey> secret_keys;
  for (const yashe::KeySet& key_set : keys.keys) {
    public_keys.push_back(key_set.public_key);
    evaluation_keys.push_back(key_set.evaluation_key);
    secret_keys.push_back(key_set.secret_key);
  }
  save_parameter_set(dir.file("params"), keys.contexts, key_set_id(key_ids_of(public_keys)));
  save_public_keys(dir.file("public.key"), keys.contexts, public_keys);
  save_evaluation_keys(dir.file("evaluation.key"), keys.contexts, evaluation_keys);
  save_secret_keys(dir.file("secret.key"), keys.contexts, secret_keys);

  // Two images (first image 5) and two values per modulus: a fresh ciphertext of the message
  // 1 + 2x and, to show the degree field, the unrelinearised square of it (degree 2).
  EncryptedBatch batch;
  batch.images = 2;
  for (size_t i = 0; i < keys.contexts.size(); ++i) {
    const yashe::Encryptor encryptor(keys.contexts[i], public_keys[i]);
    const yashe::Evaluator evaluator(keys.contexts[i], evaluation_keys[i]);
    const yashe::Ciphertext fresh =
        encryptor.encrypt(yashe::Plaintext{{1, 2, 0, 0, 0, 0, 0, 0}}, prng);
    batch.values.push_back({fresh, evaluator.multiply_without_relinearization(fresh, fresh)});
  }
  CiphertextFileWriter writer(dir.file("ciphertexts.ct"), keys.contexts, key_ids_of(public_keys),
                              toy_profile_fingerprint(), toy_source(), 5, 2, 2, 2);
  writer.write(std::move(batch));
  writer.commit();
  fix_file_id(dir.file("ciphertexts.ct"), keys.contexts.size());
  return {"params", "public.key", "evaluation.key", "secret.key", "ciphertexts.ct"};
}

// The BFV toy objects of FORMATS.md §7 (the same ring and moduli), as "bfv-<name>".
std::vector<std::string> write_bfv_toy_files(const TempDir& dir) {
  bfv::Parameters base;
  base.n = 8;
  base.q_primes = generate_ntt_primes(20, 2, 16);
  base.t = 241;
  const std::vector<uint64_t> moduli = {241, 193};
  Prng prng = Prng::insecure_seeded(19);  // INSECURE: fixed bytes for the dump
  const encoding::BfvCrtKeys keys = encoding::BfvCrtKeys::generate(base, moduli, prng);
  std::filesystem::create_directory(dir.file("bfv-keys"));
  save_key_directory(KeyDirectory(dir.file("bfv-keys")), keys);
  std::vector<std::string> names;
  for (const char* name : {"params", "public.key", "evaluation.key", "secret.key"}) {
    std::filesystem::rename(dir.file("bfv-keys/" + std::string(name)),
                            dir.file("bfv-" + std::string(name)));
    names.push_back("bfv-" + std::string(name));
  }

  // A fresh ciphertext of 1 + 2x (two parts) and its relinearised square 1 + 4x + 4x²: a
  // ciphertext record holds one number of parts.
  EncryptedBatch batch;
  batch.images = 2;
  for (size_t i = 0; i < keys.contexts.size(); ++i) {
    const bfv::Encryptor encryptor(keys.contexts[i], keys.keys[i].public_key);
    const bfv::Evaluator evaluator(keys.contexts[i], keys.keys[i].relinearization_key);
    const bfv::Ciphertext fresh = encryptor.encrypt(bfv::Plaintext{{1, 2, 0, 0, 0, 0, 0, 0}}, prng);
    batch.values.push_back({fresh, evaluator.multiply(fresh, fresh)});
  }
  BfvCiphertextFileWriter writer(dir.file("bfv-ciphertexts.ct"), keys.contexts, keys.key_ids(),
                                 toy_profile_fingerprint(), toy_source(), 5, 2, 2, 2);
  writer.write(std::move(batch));
  writer.commit();
  fix_file_id(dir.file("bfv-ciphertexts.ct"), keys.contexts.size());
  names.push_back("bfv-ciphertexts.ct");
  return names;
}

std::vector<std::string> write_toy_files(const TempDir& dir) {
  std::vector<std::string> names = write_yashe_toy_files(dir);
  for (const std::string& name : write_bfv_toy_files(dir))
    names.push_back(name);
  return names;
}

// The files of a committed dump (hex_dump's format), by name.
std::vector<std::pair<std::string, std::string>> parse_dump(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> files;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# ")) {
      files.emplace_back(line.substr(2, line.find(':') - 2), "");
    } else if (!line.empty() && !files.empty()) {
      std::istringstream words(line.substr(line.find(' ')));
      for (std::string byte; words >> byte;)
        files.back().second += static_cast<char>(std::stoi(byte, nullptr, 16));
    }
  }
  return files;
}

}  // namespace

TEST_CASE("A seeded toy key set and ciphertext file equal the committed hex dump byte for byte") {
  const TempDir dir;
  std::string dump;
  for (const std::string& name : write_toy_files(dir))
    dump += hex_dump(name, test_support::read_bytes(dir.file(name)));
  const std::string committed_path =
      (test_support::repository_root() / "tests/formats/protocol_v6.hex").string();
  if (std::getenv("CRYPTONETS_WRITE_FORMAT_DUMP") != nullptr) {
    std::ofstream(committed_path, std::ios::binary) << dump;
    MESSAGE("wrote " << committed_path);
  }
  const std::string committed = test_support::read_bytes(committed_path);
  REQUIRE_MESSAGE(!committed.empty(), "missing " << committed_path);
  if (committed != dump) {
    std::istringstream a(committed), b(dump);
    std::string line_a, line_b;
    size_t line = 0;
    while (true) {
      ++line;
      const bool more_a = static_cast<bool>(std::getline(a, line_a));
      const bool more_b = static_cast<bool>(std::getline(b, line_b));
      if (line_a != line_b || more_a != more_b) break;
    }
    FAIL_CHECK("the files' bytes differ from " << committed_path << " at line " << line
                                               << ":\n  committed: " << line_a
                                               << "\n  written:   " << line_b
                                               << "\nA format change must bump the version and "
                                                  "update FORMATS.md; see the comment above.");
  }
}

TEST_CASE("A profile's preset beyond the parameter limits is refused as read, not at keygen") {
  // Found by an audit: a (hostile) server's profile could name any number of q primes and
  // plaintext moduli, and the client's keygen built a context (its tables) for each modulus.
  // The limits (rlwe/parameters.hpp, FORMATS.md §2) hold when the profile is read.
  const std::string shipped =
      test_support::read_bytes((test_support::repository_root() / "data/model.profile").string());
  const std::string::size_type start = shipped.find("preset default ");
  REQUIRE(start != std::string::npos);
  const std::string::size_type end = shipped.find('\n', start);
  const auto with_default = [&](size_t n, size_t primes, size_t moduli) {
    std::string line =
        "preset default scheme yashe n " + std::to_string(n) + " sigma 3.2 decomposition 0 q";
    for (uint64_t q : generate_ntt_primes(55, primes, 2 * std::min<size_t>(n, 32768)))
      line += " " + std::to_string(q);
    line += " t";
    for (uint64_t t : generate_ntt_primes(40, moduli, 2 * std::min<size_t>(n, 32768)))
      line += " " + std::to_string(t);
    return shipped.substr(0, start) + line + shipped.substr(end);
  };
  const auto refusal = [](const std::string& text) {
    std::istringstream in(text);
    return test_support::error_of([&] { read_profile(in, "model.profile"); });
  };
  CHECK(refusal(with_default(8192, 7, 2)).empty());    // the shipped preset's shape
  CHECK(refusal(with_default(32768, 40, 8)).empty());  // at the limits
  CHECK(test_support::contains(refusal(with_default(65536, 7, 2)),
                               "n must be an integer in [2, 32768], got '65536'"));
  CHECK(test_support::contains(refusal(with_default(8192, 41, 2)),
                               "preset default: q has 41 primes, more than the 40 this build "
                               "supports"));
  CHECK(test_support::contains(refusal(with_default(8192, 7, 9)),
                               "preset default: 9 plaintext moduli, more than the 8 this build "
                               "supports"));
}

TEST_CASE("the model profile fingerprint covers the model's fields, not the presets") {
  ModelProfile profile;
  profile.input_shape = {1, 1, 2};
  profile.input_scale = 16;
  profile.outputs = 2;
  profile.output_bound = 1000;
  const uint64_t toy = profile.fingerprint();
  CHECK(toy == toy_profile_fingerprint());
  // FORMATS.md §3.5 and §7 state this value; reader_from_spec.py recomputes it from the spec.
  CHECK(toy == 0x1bbcb32e22e9bcc2ull);
  ModelProfile other = profile;
  other.circuit_privacy_bits = 40;
  other.presets.resize(1);
  CHECK(other.fingerprint() == toy);
  other = profile;
  other.input_scale = 16.5;
  CHECK(other.fingerprint() != toy);
  other = profile;
  other.input_shape = {1, 2, 1};
  CHECK(other.fingerprint() != toy);
  other = profile;
  other.outputs = 3;
  CHECK(other.fingerprint() != toy);
  other = profile;
  other.output_bound = 1001;
  CHECK(other.fingerprint() != toy);
  // The server's side (infer): computed from the model, as the shipped profile was made from it.
  const auto data = test_support::repository_root() / "data";
  CHECK(profile_fingerprint(load_model((data / "model.txt").string())) ==
        load_profile((data / "model.profile").string()).fingerprint());
}

TEST_CASE("inspect verifies every checksum and identity of the toy files, and names a broken one") {
  const TempDir dir;
  for (const std::string& name : write_toy_files(dir)) {
    CAPTURE(name);
    // The BFV files with their own parameter set (DIR/params beside them is YASHE'), so that the
    // loader reads them too (without one they are NOT VERIFIED).
    const bool bfv_keys = name.starts_with("bfv-") && name != "bfv-params";
    const FileInspection report =
        inspect_file(dir.file(name), bfv_keys ? dir.file("bfv-params") : "");
    CHECK(report.intact());
    // The header and one record per modulus (and, in the ciphertext file, their bindings).
    CHECK(report.checksums_verified == (name.ends_with("ciphertexts.ct") ? 5u : 3u));
    REQUIRE(!report.fields.empty());
    bool scheme_named = false;
    for (const auto& [field, value] : report.fields)
      scheme_named = scheme_named ||
                     (field == "scheme" && value == (name.starts_with("bfv-") ? "BFV" : "YASHE'"));
    CHECK(scheme_named);
  }
  // A flipped payload byte of the second record of the ciphertext file.
  std::string bytes = test_support::read_bytes(dir.file("ciphertexts.ct"));
  bytes[bytes.size() - kProtocolBindingBytes - 32 - 10] ^= 1;  // record 2, before its checksum
  test_support::write_bytes(dir.file("damaged.ct"), bytes);
  const FileInspection damaged = inspect_file(dir.file("damaged.ct"));
  REQUIRE(damaged.problems.size() == 1);
  CHECK(damaged.problems[0] ==
        "record 2 (batch 1, modulus 2): checksum mismatch (SHA-256 over its header and payload)");
  test_support::write_bytes(dir.file("foreign"), "GIF89a....");
  CHECK_THROWS_WITH_AS(inspect_file(dir.file("foreign")),
                       doctest::Contains("not a cryptonets file"), std::runtime_error);
}

namespace {

bool has_problem(const FileInspection& report, const std::string& problem) {
  return std::find(report.problems.begin(), report.problems.end(), problem) !=
         report.problems.end();
}

}  // namespace

TEST_CASE("inspect names a key file under another role's name or beside another scheme's params") {
  namespace fs = std::filesystem;
  const TempDir dir;
  write_toy_files(dir);
  // public.key and evaluation.key swapped: each file intact, one key set id, one parameter set.
  fs::create_directory(dir.file("swapped"));
  fs::copy_file(dir.file("params"), dir.file("swapped/params"));
  fs::copy_file(dir.file("public.key"), dir.file("swapped/evaluation.key"));
  fs::copy_file(dir.file("evaluation.key"), dir.file("swapped/public.key"));
  const std::string public_key = dir.file("swapped/public.key");
  const std::string evaluation_key = dir.file("swapped/evaluation.key");
  const std::string public_problem = "role: '" + public_key +
                                     "' holds evaluation keys, but the public.key of a key set "
                                     "holds public keys";
  const std::string evaluation_problem = "role: '" + evaluation_key +
                                         "' holds public keys, but the evaluation.key of a key "
                                         "set holds evaluation keys";
  const FileInspection public_report = inspect_file(public_key);
  CHECK(public_report.problems == std::vector<std::string>{public_problem});
  const FileInspection evaluation_report = inspect_file(evaluation_key);
  CHECK(evaluation_report.problems == std::vector<std::string>{evaluation_problem});
  // The params beside them are intact: it notes the misplaced files, whose problems they are.
  const FileInspection params_report = inspect_file(dir.file("swapped/params"));
  CHECK(params_report.intact());
  CHECK(std::count_if(params_report.fields.begin(), params_report.fields.end(),
                      [](const auto& field) { return field.first == "beside it"; }) == 2);
  // Under another name the file is not held to a role.
  CHECK(inspect_file(dir.file("bfv-evaluation.key")).problems.empty());

  // YASHE' keys beside BFV parameters (the same ring and moduli, another scheme). One key file
  // is the odd one, its problem; beside two or more that agree, the params is (found by a review:
  // the mismatch was the problem of both files, and a key set's report named it twice).
  fs::create_directory(dir.file("schemes"));
  fs::copy_file(dir.file("bfv-params"), dir.file("schemes/params"));
  const auto noted_beside = [](const FileInspection& report, const std::string& text) {
    return std::any_of(report.fields.begin(), report.fields.end(), [&](const auto& field) {
      return field.second.find(text) != std::string::npos;
    });
  };
  for (const char* name : {"public.key", "evaluation.key", "secret.key"}) {
    CAPTURE(name);
    const std::string path = dir.file("schemes/" + std::string(name));
    fs::copy_file(dir.file(name), path);
    const std::string problem = "scheme: '" + path + "' is YASHE', but its parameter set '" +
                                dir.file("schemes/params") + "' is BFV";
    const FileInspection key_report = inspect_file(path);
    const FileInspection scheme_params_report = inspect_file(dir.file("schemes/params"));
    if (std::string(name) == "public.key") {
      CHECK(has_problem(key_report, problem));
      CHECK(scheme_params_report.problems.empty());
      CHECK(noted_beside(scheme_params_report,
                         problem + " (a problem of that file, not of this one)"));
    } else {
      CHECK(key_report.problems.empty());
      CHECK(noted_beside(key_report, "beside it is not of the key generation of this file"));
      REQUIRE(scheme_params_report.problems.size() == 1);
      CHECK(scheme_params_report.problems[0].find("this parameter set is the odd one") !=
            std::string::npos);
    }
    // Given as --params, another scheme's parameter set is a problem of a key file whatever
    // its name.
    CHECK(has_problem(inspect_file(dir.file(name), dir.file("bfv-params")),
                      "scheme: '" + dir.file(name) + "' is YASHE', but its parameter set '" +
                          dir.file("bfv-params") + "' is BFV"));
  }
}

TEST_CASE("inspect_key_set inspects every file of a key directory and judges the set") {
  namespace fs = std::filesystem;
  const TempDir dir;
  write_toy_files(dir);
  // A second secret key beside the set is EXPOSED (tested below); the BFV files are other files.
  fs::remove(dir.file("bfv-secret.key"));
  KeySetInspection set = inspect_key_set(dir.path.string() + "/");
  CHECK(set.intact());
  REQUIRE(set.members.size() == 5);
  CHECK(set.members[0].path == dir.file("params"));
  CHECK(set.checksums_verified == 12);
  const auto field = [&](const std::string& name) {
    for (const auto& [key, value] : set.fields)
      if (key == name) return value;
    return std::string("(none)");
  };
  CHECK(field("missing") == "model.profile");
  CHECK(field("secret key") == "present, mode 0600 (its owner only)");
  CHECK(field("usable for") ==
        "encrypt (params, public.key); infer (params, evaluation.key, public.key); decrypt "
        "(params, secret.key)");
  CHECK(field("other files").starts_with("bfv-ciphertexts.ct, bfv-evaluation.key"));
  const std::string text = format_key_set_inspection(dir.path.string(), set);
  CHECK(text.find("file: " + dir.file("secret.key") + "\nkind: secret keys") != std::string::npos);
  CHECK(text.ends_with("key set verdict: intact (4 files, 12 checksums verified)\n"));
  // A parameter set's record goes on over indented lines, not one line with a literal "\n" (a
  // trial: escaping every line escaped the report's own newlines too).
  CHECK(text.find(", checksum ok\n    n = ") != std::string::npos);
  CHECK(text.find("\n    q primes: ") != std::string::npos);
  CHECK(text.find("\\n") == std::string::npos);

  // A secret key others may read, and evaluation keys of the other scheme.
  fs::permissions(dir.file("secret.key"), fs::perms::group_read, fs::perm_options::add);
  fs::copy_file(dir.file("bfv-evaluation.key"), dir.file("evaluation.key"),
                fs::copy_options::overwrite_existing);
  set = inspect_key_set(dir.path.string());
  CHECK(field("secret key") == "present, mode 0640: ITS GROUP MAY READ IT");
  CHECK(field("usable for") == "encrypt (params, public.key); decrypt (params, secret.key)");
  const std::string scheme_problem = "scheme: '" + dir.file("evaluation.key") +
                                     "' is BFV, but its parameter set '" + dir.file("params") +
                                     "' is YASHE'";
  // Named once, by the file it is about (params, which checks the files beside it, finds it too).
  CHECK(std::count(set.problems.begin(), set.problems.end(), "params: " + scheme_problem) == 0);
  CHECK(std::count(set.problems.begin(), set.problems.end(), "evaluation.key: " + scheme_problem) ==
        1);
  // Named once, though the file's own report names it too.
  CHECK(std::count_if(set.problems.begin(), set.problems.end(), [](const std::string& problem) {
          return problem.starts_with("secret.key: mode 0640 lets others");
        }) == 1);
  CHECK(inspect_file(dir.file("secret.key")).problems ==
        std::vector<std::string>{"mode 0640 lets others than its owner at the secret key (its "
                                 "group may read it; keygen writes it with mode 0600: chmod 600 "
                                 "it, and make new keys if others may have read it)"});
  CHECK(format_key_set_inspection(dir.path.string(), set).find("evaluation.key: MISMATCHED") !=
        std::string::npos);

  // Execute bits alone give nothing away, and the field says what the bits allow (modes 0610 and
  // 0601 read "OTHERS MAY READ OR WRITE IT").
  fs::permissions(dir.file("secret.key"),
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_exec);
  set = inspect_key_set(dir.path.string());
  CHECK(field("secret key") ==
        "present, mode 0610 (only its owner may read or write it; its group may execute it)");
  CHECK(inspect_file(dir.file("secret.key")).intact());
  fs::permissions(dir.file("secret.key"), fs::perms::owner_read | fs::perms::owner_write |
                                              fs::perms::others_read | fs::perms::others_write);
  set = inspect_key_set(dir.path.string());
  CHECK(field("secret key") == "present, mode 0606: OTHERS MAY READ AND WRITE IT");
  // Public keys under secret.key, mode 0644: judged by what the file holds, not by its name (it
  // was reported as an exposed secret key).
  fs::copy_file(dir.file("public.key"), dir.file("secret.key"),
                fs::copy_options::overwrite_existing);
  fs::permissions(dir.file("secret.key"), fs::perms::owner_read | fs::perms::owner_write |
                                              fs::perms::group_read | fs::perms::others_read);
  set = inspect_key_set(dir.path.string());
  CHECK(field("secret key") == "present, mode 0644, but it holds no secret keys (see its report)");
  CHECK(std::none_of(set.problems.begin(), set.problems.end(), [](const std::string& problem) {
    return problem.find("lets others than its owner") != std::string::npos;
  }));

  const TempDir empty;
  CHECK_THROWS_WITH_AS(inspect_key_set(empty.path.string()),
                       doctest::Contains("is a directory with none of a key set's files"),
                       std::runtime_error);
}

TEST_CASE("inspect_key_set refuses a profile whose model needs more plaintext bits than the keys") {
  const TempDir dir;
  write_toy_files(dir);  // the YASHE' key set: T = 241 * 193, about 15 bits
  // A second secret key beside the set is EXPOSED (inspect_key_set searches other files).
  std::filesystem::remove(dir.file("bfv-secret.key"));
  ModelProfile profile;
  profile.input_shape = {1, 28, 28};
  profile.input_scale = 1;
  profile.outputs = 10;
  profile.output_bound = 100;
  inference::ParameterChoice choice;
  choice.name = "default";
  choice.base.n = 8;
  choice.base.q_primes = generate_ntt_primes(20, 2, 16);
  choice.base.t = 241;
  choice.plaintext_moduli = {241, 193};
  profile.presets.push_back(choice);
  save_profile(profile, dir.file("model.profile"));
  const auto usable_for = [](const KeySetInspection& set) {
    for (const auto& [key, value] : set.fields)
      if (key == "usable for") return value;
    return std::string("(none)");
  };
  KeySetInspection set = inspect_key_set(dir.path.string());
  CHECK(set.intact());
  CHECK(usable_for(set) ==
        "encrypt (params, public.key); infer (params, evaluation.key, public.key); decrypt "
        "(params, secret.key)");

  // Each file intact alone, but encrypt and decrypt would refuse the pair (found by a tester:
  // "usable for: encrypt ... decrypt", then encrypt failed with "the model needs 80 bits").
  profile.output_bound = mpz_class(1) << 40;
  save_profile(profile, dir.file("model.profile"));
  set = inspect_key_set(dir.path.string());
  CHECK_FALSE(set.intact());
  REQUIRE(set.problems.size() == 1);
  CHECK(set.problems[0].starts_with("model.profile: does not fit the parameter set '" +
                                    dir.file("params") + "'"));
  CHECK(set.problems[0].find("the model needs") != std::string::npos);
  CHECK(usable_for(set) == "infer (params, evaluation.key, public.key)");
}

TEST_CASE("inspect prints every name on one printable line") {
  CHECK(printable_text("a\nverdict: intact\r\t\\") == "a\\nverdict: intact\\r\\t\\\\");
  CHECK(printable_text("\x1b[2J\x7f") == "\\x1b[2J\\x7f");
  // Well-formed UTF-8 is kept; invalid bytes, an overlong form, a surrogate and C1 controls are
  // not.
  CHECK(printable_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91") ==
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91");
  CHECK(printable_text("\xff\xc3") == "\\xff\\xc3");
  CHECK(printable_text("\xc0\xaf\xed\xa0\x80") == "\\xc0\\xaf\\xed\\xa0\\x80");
  CHECK(printable_text("\xc2\x9b") == "\\xc2\\x9b");
  // Found by a trial: a file name with a newline forged a verdict line.
  FileInspection report;
  report.kind = "secret keys";
  report.problems.push_back("'x\nverdict: intact' holds secret keys");
  const std::string text = format_inspection("x\nverdict: intact (3 checksums verified)", report);
  CHECK(text.find("\nverdict: intact") == std::string::npos);
  CHECK(text.starts_with("file: x\\nverdict: intact (3 checksums verified)\nkind: secret keys\n"));
  CHECK(text.find("PROBLEM: 'x\\nverdict: intact' holds secret keys\n") != std::string::npos);
}

TEST_CASE("inspect skips the holes of a sparse file, and finds a secret key that ends in one") {
  const TempDir dir;
  // A signature whose scheme byte is the last of the data: its version bytes are the hole's zeros.
  const std::string path = dir.file("sparse.img");
  {
    std::ofstream out(path, std::ios::binary);
    const std::string block = std::string(4090, 'x') + "CNPFSY";
    out.write(block.data(), static_cast<std::streamsize>(block.size()));
  }
  std::filesystem::resize_file(path, uint64_t{1} << 20);
  FileInspection report = inspect_file(path);
  CHECK(has_problem(report,
                    "secret keys inside: EXPOSED: a protocol file of secret keys (\"CNPF\", "
                    "kind 'S') of YASHE' lies at byte 4090 of this file, which is not "
                    "itself secret keys: whoever is given this file is given the secret "
                    "key (delete it, and make new keys if it has left your hands)"));
  // One after a hole (found by a trial: the holes were read, 2 GiB in 13.7 s). 256 MiB keeps
  // this test short even where the file system cannot report holes (then every byte is read);
  // cli_inspect's 1 TiB file under a timeout is the check that holes are skipped.
  constexpr uint64_t kHole = uint64_t{256} << 20;
  {
    std::ofstream out(path, std::ios::binary);
    out.write("x", 1);
  }
  std::filesystem::resize_file(path, kHole);
  {
    std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(kHole));
    out.write("CNETSB\x03\x00", 8);
  }
  report = inspect_file(path);
  CHECK(
      std::any_of(report.problems.begin(), report.problems.end(), [&](const std::string& problem) {
        return problem.find("a secret key record (\"CNET\", kind 'S') of BFV lies at byte " +
                            std::to_string(kHole)) != std::string::npos;
      }));
}

TEST_CASE("inspect reads a single CNET record and recomputes its parameter fingerprint") {
  const TempDir dir;
  yashe::Parameters params;
  params.n = 8;
  params.q_primes = generate_ntt_primes(20, 2, 16);
  params.t = 241;
  save_parameters(dir.file("one.record"), params);
  const FileInspection report = inspect_file(dir.file("one.record"));
  CHECK(report.kind.find("a single CNET record") != std::string::npos);
  CHECK(report.intact());
  CHECK(report.checksums_verified == 1);
  REQUIRE(report.records.size() == 1);
  CHECK(report.records[0].find("n = 8, q = 2 primes") != std::string::npos);
  // A fingerprint that is not that of the parameters: the checksum is recomputed to match, so
  // only the fingerprint check can catch it.
  std::string bytes = test_support::read_bytes(dir.file("one.record"));
  bytes[8] ^= 1;
  const size_t end = bytes.size() - 32;
  const Sha256::Digest digest = sha256({reinterpret_cast<const uint8_t*>(bytes.data()), end});
  std::copy(digest.begin(), digest.end(), bytes.begin() + static_cast<ptrdiff_t>(end));
  test_support::write_bytes(dir.file("other.record"), bytes);
  const FileInspection other = inspect_file(dir.file("other.record"));
  REQUIRE(other.problems.size() == 1);
  CHECK(other.problems[0].find("is not that of its parameters") != std::string::npos);
}

TEST_CASE("The files of format version 3 (tests/formats/protocol_v3.hex) are refused by name") {
  const std::string committed = test_support::read_bytes(
      (test_support::repository_root() / "tests/formats/protocol_v3.hex").string());
  const auto files = parse_dump(committed);
  REQUIRE(files.size() == 5);
  const TempDir dir;
  for (const auto& [name, bytes] : files) {
    CAPTURE(name);
    test_support::write_bytes(dir.file(name), bytes);
  }
  const std::string refusal = "format version 3 is no longer supported; this build reads 6";
  auto refused = [&](const std::function<void()>& load, const std::string& redo) {
    const std::string error = test_support::error_of(load);
    CHECK_MESSAGE(error.find(refusal) != std::string::npos, error);
    CHECK_MESSAGE(error.find(redo) != std::string::npos, error);
  };
  refused([&] { load_parameter_set(dir.file("params")); }, "re-run keygen");
  refused([&] { load_parameter_set<bfv::Scheme>(dir.file("params")); }, "re-run keygen");
  for (const char* name : {"params", "public.key", "evaluation.key", "secret.key"})
    refused([&] { read_protocol_header(dir.file(name)); }, "re-run keygen");
  refused(
      [&] {
        const ContextSet contexts = make_context_set(
            yashe::Parameters{8, generate_ntt_primes(20, 2, 16), 241, 3.2, 0}, {241, 193});
        CiphertextFileReader reader(dir.file("ciphertexts.ct"), contexts, {1, 2});
      },
      "re-run encrypt");
  // inspect refuses them in the loaders' words, one function's (it worded them otherwise).
  for (const auto& [name, bytes] : files) {
    CAPTURE(name);
    const ProtocolFileKind kind = static_cast<ProtocolFileKind>(bytes.at(4));
    const std::string wording = protocol_version_refusal(3, kind);
    CHECK(wording.starts_with(refusal));
    CHECK_THROWS_WITH_AS(inspect_file(dir.file(name)), doctest::Contains(wording.c_str()),
                         std::runtime_error);
    CHECK_MESSAGE(test_support::error_of([&] {
                    read_protocol_header(dir.file(name));
                  }).find(wording) != std::string::npos,
                  name);
  }
}

TEST_CASE("The files of format versions 4 and 5 (tests/formats/protocol_v4.hex, _v5) are refused") {
  // Version 4 did not record the images file a ciphertext file was encrypted from, version 5 not
  // the model profile it was encrypted with.
  for (const uint16_t version : {4, 5}) {
    CAPTURE(version);
    const auto files = parse_dump(
        test_support::read_bytes((test_support::repository_root() /
                                  ("tests/formats/protocol_v" + std::to_string(version) + ".hex"))
                                     .string()));
    REQUIRE(files.size() == 10);
    const TempDir dir;
    for (const auto& [name, bytes] : files)
      test_support::write_bytes(dir.file(name), bytes);
    const std::string refusal =
        "format version " + std::to_string(version) + " is no longer supported; this build reads 6";
    for (const auto& [name, bytes] : files) {
      CAPTURE(name);
      const std::string error =
          test_support::error_of([&] { read_protocol_header(dir.file(name)); });
      CHECK_MESSAGE(error.find(refusal) != std::string::npos, error);
      CHECK_MESSAGE(error.find(name.ends_with(".ct") ? "re-run encrypt" : "re-run keygen") !=
                        std::string::npos,
                    error);
      // The same words from inspect as from the loaders.
      const std::string wording =
          protocol_version_refusal(version, static_cast<ProtocolFileKind>(bytes.at(4)));
      CHECK_MESSAGE(error.find(wording) != std::string::npos, error);
      CHECK_THROWS_WITH_AS(inspect_file(dir.file(name)), doctest::Contains(wording.c_str()),
                           std::runtime_error);
    }
    const std::string error = test_support::error_of([&] {
      const BfvContextSet contexts = make_context_set(
          bfv::Parameters{8, generate_ntt_primes(20, 2, 16), 241, 3.2, 0}, {241, 193});
      BfvCiphertextFileReader reader(dir.file("bfv-ciphertexts.ct"), contexts, {1, 2});
    });
    CHECK_MESSAGE(error.find(refusal + " (written by an older cryptonets; re-run encrypt") !=
                      std::string::npos,
                  error);
  }
}

namespace {

// Rewrites each record of the protocol file `path` (not a ciphertext file) through `edit` (its
// payload), with the record's length and checksum made to fit: anyone can, as the checksums carry
// no secret.
void rewrite_records(const std::string& path, const std::function<void(std::string&)>& edit) {
  const std::string bytes = test_support::read_bytes(path);
  std::string out = bytes.substr(0, kProtocolHeaderBytes);
  for (size_t offset = kProtocolHeaderBytes; offset < bytes.size();) {
    std::string header = bytes.substr(offset, kSerializationHeaderBytes);
    auto* fields = reinterpret_cast<uint8_t*>(header.data());
    const size_t length = load_le(fields + 24, 8);
    std::string payload = bytes.substr(offset + kSerializationHeaderBytes, length);
    edit(payload);
    store_le(fields + 24, payload.size(), 8);
    const std::string covered = header + payload;
    const Sha256::Digest digest =
        sha256({reinterpret_cast<const uint8_t*>(covered.data()), covered.size()});
    out += covered + std::string(digest.begin(), digest.end());
    offset += kSerializationHeaderBytes + length + kSerializationChecksumBytes;
  }
  test_support::write_bytes(path, out);
}

bool has_problem_starting(const std::vector<std::string>& problems, const std::string& start) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& problem) { return problem.starts_with(start); });
}

std::string field_of(const std::vector<std::pair<std::string, std::string>>& fields,
                     const std::string& name) {
  for (const auto& [key, value] : fields)
    if (key == name) return value;
  return "(none)";
}

}  // namespace

TEST_CASE("inspect refuses what the loaders refuse, though every checksum was recomputed") {
  namespace fs = std::filesystem;
  const TempDir dir;
  write_toy_files(dir);
  CHECK(field_of(inspect_file(dir.file("public.key")).fields, "as the commands load it") ==
        "read (every field and residue checked)");
  // Found by a trial: each of these was "intact", and the set "usable for" encrypt or decrypt.
  struct Case {
    const char* file;
    const char* what;
    std::function<void(std::string&)> edit;
    const char* not_usable_for;
  };
  const std::vector<Case> cases = {
      {"params", "a parameter record shorter than 48 bytes",
       [](std::string& payload) { payload.resize(40); }, "encrypt"},
      {"params", "a parameter record longer than 8 (5 + 40) bytes",
       [](std::string& payload) { payload.append(8 * 65, '\0'); }, "encrypt"},
      {"public.key", "a public key residue above its prime",
       [](std::string& payload) { std::fill(payload.begin() + 8, payload.begin() + 16, '\xff'); },
       "encrypt"},
      {"secret.key", "a secret key code 3",
       [](std::string& payload) { std::fill(payload.begin(), payload.begin() + 8, '\xff'); },
       "decrypt"}};
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const std::string set = dir.file("case");
    fs::remove_all(set);
    fs::create_directory(set);
    for (const char* name : {"params", "public.key", "evaluation.key", "secret.key"})
      fs::copy_file(dir.file(name), set + "/" + name);
    fs::permissions(set + "/secret.key", fs::perms::owner_read | fs::perms::owner_write);
    rewrite_records(set + "/" + c.file, c.edit);
    const FileInspection report = inspect_file(set + "/" + c.file);
    CHECK_FALSE(report.intact());
    CHECK(has_problem_starting(report.problems, "refused by the loader"));
    const KeySetInspection key_set = inspect_key_set(set);
    CHECK_FALSE(key_set.intact());
    CHECK(field_of(key_set.fields, "usable for").find(c.not_usable_for) == std::string::npos);
  }
}

TEST_CASE(
    "inspect refuses a parameter set with a plaintext modulus twice, every identity recomputed") {
  const TempDir dir;
  write_yashe_toy_files(dir);
  // Record 2 gets record 1's t (241 twice), with its fingerprint, the header's parameter-set
  // fingerprint (FORMATS.md §3.3), the header checksum and the record checksums recomputed.
  std::vector<uint64_t> fingerprints;
  uint64_t first_t = 0;
  rewrite_records(dir.file("params"), [&](std::string& payload) {
    auto* words = reinterpret_cast<uint8_t*>(payload.data());
    const uint64_t k = load_le(words + 8, 8);
    if (first_t == 0) first_t = load_le(words + 8 * (2 + k), 8);
    store_le(words + 8 * (2 + k), first_t, 8);
    yashe::Parameters params;
    params.n = load_le(words, 8);
    for (uint64_t i = 0; i < k; ++i)
      params.q_primes.push_back(load_le(words + 8 * (2 + i), 8));
    params.t = first_t;
    params.sigma = std::bit_cast<double>(load_le(words + 8 * (3 + k), 8));
    params.decomposition_bits = static_cast<int>(load_le(words + 8 * (4 + k), 8));
    fingerprints.push_back(params.fingerprint());
  });
  std::string bytes = test_support::read_bytes(dir.file("params"));
  auto* data = reinterpret_cast<uint8_t*>(bytes.data());
  for (size_t r = 0, offset = kProtocolHeaderBytes; r < fingerprints.size(); ++r) {
    store_le(data + offset + 8, fingerprints[r], 8);
    const size_t length = load_le(data + offset + 24, 8);
    const Sha256::Digest digest = sha256({data + offset, kSerializationHeaderBytes + length});
    std::copy(digest.begin(), digest.end(), data + offset + kSerializationHeaderBytes + length);
    offset += kSerializationHeaderBytes + length + kSerializationChecksumBytes;
  }
  Sha256 identity;
  const char tag[] = "cryptonets parameter set 1";
  identity.update({reinterpret_cast<const uint8_t*>(tag), sizeof tag});
  uint8_t word[8];
  store_le(word, fingerprints.size(), 8);
  identity.update(word);
  for (uint64_t fingerprint : fingerprints) {
    store_le(word, fingerprint, 8);
    identity.update(word);
  }
  store_le(data + 8, load_le(identity.digest().data(), 8), 8);
  const Sha256::Digest header = sha256({data, kProtocolHeaderBytes - 32});
  std::copy(header.begin(), header.end(), data + kProtocolHeaderBytes - 32);
  test_support::write_bytes(dir.file("params"), bytes);
  const FileInspection report = inspect_file(dir.file("params"));
  // Every checksum and identity verifies: only the loader's check finds it.
  CHECK(std::none_of(report.problems.begin(), report.problems.end(), [](const std::string& p) {
    return p.starts_with("header:") || p.starts_with("record ");
  }));
  CHECK(has_problem_starting(report.problems, "refused by the loader"));
  CHECK(std::any_of(report.problems.begin(), report.problems.end(), [](const std::string& p) {
    return p.find("appears twice") != std::string::npos;
  }));
}

TEST_CASE("inspect flags secret keys of the older layout, under a shared name, or beside a set") {
  namespace fs = std::filesystem;
  const TempDir dir;
  write_yashe_toy_files(dir);
  // (a) A secret key of protocol version 3 (scheme byte 0) appended to a public key file.
  const auto v3 = parse_dump(test_support::read_bytes(
      (test_support::repository_root() / "tests/formats/protocol_v3.hex").string()));
  std::string old_secret;
  for (const auto& [name, bytes] : v3)
    if (name == "secret.key") old_secret = bytes;
  REQUIRE_FALSE(old_secret.empty());
  test_support::write_bytes(dir.file("leaky.key"),
                            test_support::read_bytes(dir.file("public.key")) + old_secret);
  const FileInspection leaky = inspect_file(dir.file("leaky.key"));
  CHECK(has_problem_starting(leaky.problems, "secret keys appended: EXPOSED: "));
  CHECK(std::any_of(leaky.problems.begin(), leaky.problems.end(), [](const std::string& problem) {
    return problem.find("of an older format (protocol version 3, YASHE')") != std::string::npos;
  }));
  fs::remove(dir.file("leaky.key"));

  // (b) Secret keys under evaluation.key or public.key, the files the server is given.
  for (const char* name : {"evaluation.key", "public.key"}) {
    CAPTURE(name);
    const std::string set = dir.file(std::string("shared-") + name);
    fs::create_directory(set);
    for (const char* file : {"params", "public.key", "evaluation.key", "secret.key"})
      fs::copy_file(dir.file(file), set + "/" + file);
    fs::copy_file(dir.file("secret.key"), set + "/" + name, fs::copy_options::overwrite_existing);
    const KeySetInspection inspection = inspect_key_set(set);
    CHECK(has_problem_starting(inspection.problems,
                               std::string(name) + ": secret keys under a shared name: EXPOSED: "));
    CHECK(format_key_set_inspection(set, inspection)
              .find(std::string(name) +
                    ": MISMATCHED and EXPOSED (secret keys under a shared name)") !=
          std::string::npos);
  }

  // (c) Other files of a key directory: a copy of the secret key, a public key with one appended.
  const std::string set = dir.file("others");
  fs::create_directory(set);
  for (const char* file : {"params", "public.key", "evaluation.key", "secret.key"})
    fs::copy_file(dir.file(file), set + "/" + file);
  fs::copy_file(dir.file("secret.key"), set + "/secret.key.bak");
  test_support::write_bytes(set + "/public.key.orig",
                            test_support::read_bytes(dir.file("public.key")) +
                                test_support::read_bytes(dir.file("secret.key")));
  test_support::write_bytes(set + "/notes.txt", "made on Monday\n");
  const KeySetInspection others = inspect_key_set(set);
  CHECK_FALSE(others.intact());
  CHECK(has_problem_starting(others.problems, "secret.key.bak: secret keys inside: EXPOSED: "));
  CHECK(has_problem_starting(others.problems, "public.key.orig: secret keys inside: EXPOSED: "));
  CHECK_FALSE(has_problem_starting(others.problems, "notes.txt"));
  CHECK(field_of(others.fields, "other files") ==
        "notes.txt, public.key.orig (EXPOSED: secret keys), secret.key.bak (EXPOSED: secret keys) "
        "(not part of a key set; searched for secret keys only)");
}

TEST_CASE(
    "inspect: a secret key under model.profile or below DIR is EXPOSED; what is not "
    "checked is not intact") {
  namespace fs = std::filesystem;
  const TempDir dir;
  write_yashe_toy_files(dir);
  const auto make_set = [&](const std::string& name) {
    const std::string set = dir.file(name);
    fs::create_directory(set);
    for (const char* file : {"params", "public.key", "evaluation.key", "secret.key"})
      fs::copy_file(dir.file(file), set + "/" + file);
    return set;
  };
  // Found by trials. (a) Secret keys copied as model.profile (the published profile) were only
  // "MISMATCHED".
  const std::string profile_set = make_set("profile-set");
  fs::copy_file(dir.file("secret.key"), profile_set + "/model.profile");
  const KeySetInspection exposed = inspect_key_set(profile_set);
  CHECK(has_problem_starting(exposed.problems,
                             "model.profile: secret keys under a shared name: EXPOSED: "));
  CHECK(format_key_set_inspection(profile_set, exposed)
            .find("model.profile: MISMATCHED and EXPOSED (secret keys under a shared name)") !=
        std::string::npos);
  CHECK(has_problem_starting(inspect_file(profile_set + "/model.profile").problems,
                             "secret keys under a shared name: EXPOSED: "));
  // Another profile name than keygen's is held to the same.
  fs::rename(profile_set + "/model.profile", profile_set + "/client.profile");
  CHECK(has_problem_starting(inspect_key_set(profile_set, "client.profile").problems,
                             "client.profile: secret keys under a shared name: EXPOSED: "));

  // (b) A copy of secret.key in a subdirectory was listed as searched, and the set intact.
  const std::string nested = make_set("nested");
  fs::create_directories(nested + "/sub/deeper");
  fs::copy_file(dir.file("secret.key"), nested + "/sub/deeper/old.key");
  test_support::write_bytes(nested + "/sub/notes.txt", "made on Monday\n");
  fs::create_directory_symlink("..", nested + "/sub/up");  // a loop, if it were followed
  const KeySetInspection below = inspect_key_set(nested);
  CHECK_FALSE(below.intact());
  CHECK(has_problem_starting(below.problems, "sub/deeper/old.key: secret keys inside: EXPOSED: "));
  CHECK(field_of(below.fields, "other files") ==
        "sub/ (a directory: 2 files in it searched), sub/deeper/old.key (EXPOSED: secret keys) "
        "(not part of a key set; searched for secret keys only)");
  CHECK(field_of(below.fields, "links to directories").starts_with("sub/up (not followed"));
  fs::remove(nested + "/sub/deeper/old.key");
  CHECK(inspect_key_set(nested).intact());
  // Deeper than the search goes, or more files than it reads: not vouched for.
  fs::create_directories(nested + "/a/b/c/d/e/f/g/h/i");
  const KeySetInspection deep = inspect_key_set(nested);
  CHECK(has_problem_starting(deep.problems,
                             "not searched for secret keys: a/b/c/d/e/f/g/h/i/: "
                             "more than 8 directory levels"));
  fs::remove_all(nested + "/a");
  fs::create_directory(nested + "/many");
  for (int i = 0; i < 4097; ++i)
    std::ofstream(nested + "/many/" + std::to_string(10000 + i));
  const KeySetInspection many = inspect_key_set(nested);
  CHECK(has_problem_starting(many.problems,
                             "not searched for secret keys: many/14096 and the files after it"));
  CHECK(many.problems.size() == 1);

  // (c) A key file without its parameter set was "intact", its key material NOT CHECKED.
  const std::string lonely = dir.file("lonely");
  fs::create_directory(lonely);
  fs::copy_file(dir.file("public.key"), lonely + "/public.key");
  const FileInspection alone = inspect_file(lonely + "/public.key");
  CHECK(alone.problems.empty());
  CHECK_FALSE(alone.intact());
  CHECK(alone.unchecked.size() == 1);
  CHECK((!alone.unchecked.empty() &&
         alone.unchecked[0].starts_with("key material: no parameter set")));
  CHECK(format_inspection("public.key", alone).find("verdict: NOT VERIFIED") != std::string::npos);
  CHECK(inspect_file(lonely + "/public.key", dir.file("params")).intact());

  // (d) Ciphertext files go through the loader too: without a parameter set they are not
  // vouched for, and a residue above its prime (checksum and binding recomputed) is refused.
  fs::copy_file(dir.file("ciphertexts.ct"), lonely + "/ciphertexts.ct");
  const FileInspection ciphertexts = inspect_file(lonely + "/ciphertexts.ct");
  CHECK(ciphertexts.problems.empty());
  CHECK(ciphertexts.unchecked ==
        std::vector<std::string>{"ciphertexts: no parameter set to read the ciphertexts with "
                                 "(inspect --params FILE reads them as the commands do)"});
  CHECK(inspect_file(lonely + "/ciphertexts.ct", dir.file("params")).intact());
  std::string bytes = test_support::read_bytes(dir.file("ciphertexts.ct"));
  auto* data = reinterpret_cast<uint8_t*>(bytes.data());
  const size_t record = kProtocolHeaderBytes, payload = load_le(data + record + 24, 8);
  // The first ciphertext's packed polynomial: after count, parts, degree and form.
  std::fill(data + record + kSerializationHeaderBytes + 32,
            data + record + kSerializationHeaderBytes + 40, 0xff);
  const Sha256::Digest digest = sha256({data + record, kSerializationHeaderBytes + payload});
  std::copy(digest.begin(), digest.end(), data + record + kSerializationHeaderBytes + payload);
  test_support::write_bytes(dir.file("edited.ct"), bytes);
  fix_file_id(dir.file("edited.ct"), 2);  // the bindings, over the new checksum
  const FileInspection edited = inspect_file(dir.file("edited.ct"), dir.file("params"));
  CHECK(has_problem_starting(edited.problems, "refused by the loader"));
  CHECK_FALSE(has_problem_starting(edited.problems, "record "));
}

TEST_CASE("inspect shows invalid parameters as stored, marked, without a 301-digit sigma") {
  const TempDir dir;
  write_yashe_toy_files(dir);
  // Found by a trial: a sigma of 1e300 was printed in 301 digits (the validation message's
  // std::to_string), and a q prime of 1 as "log2 q = 0", as if they were real parameters.
  for (const bool prime : {false, true}) {
    CAPTURE(prime);
    const std::string path = dir.file(prime ? "prime-params" : "sigma-params");
    std::filesystem::copy_file(dir.file("params"), path);
    rewrite_records(path, [prime](std::string& payload) {
      auto* words = reinterpret_cast<uint8_t*>(payload.data());
      const uint64_t k = load_le(words + 8, 8);
      if (prime)
        store_le(words + 16, 1, 8);
      else
        store_le(words + 8 * (3 + k), std::bit_cast<uint64_t>(1e300), 8);
    });
    const FileInspection report = inspect_file(path);
    REQUIRE(!report.records.empty());
    CHECK(report.records[0].find("(as stored: INVALID, see the problems)") != std::string::npos);
    CHECK(report.records[0].find("log2 q") == std::string::npos);
    const std::string invalid =
        prime ? "record 1 (modulus 1): invalid parameters: YASHE parameters: q prime 1"
              : "record 1 (modulus 1): invalid parameters: YASHE parameters: sigma = 1e+300 "
                "is out of range";
    CHECK(has_problem_starting(report.problems, invalid));
    for (const std::string& problem : report.problems)
      CHECK(problem.find("0000000000000000000000000") == std::string::npos);
  }
}
