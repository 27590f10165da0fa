// Binary files of YASHE' objects at the paper's sizes (n = 8192, q ≈ 385 bits, t ≈ 2^40): round
// trips that still decrypt and relinearise, and every kind of damage refused with a message that
// says what is wrong, in the documented order.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <streambuf>

#include "cryptonets/io/serialize.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"
#include "file_test_support.hpp"
#include "yashe_test_support.hpp"

using namespace test_support;
namespace fs = std::filesystem;

namespace {

using Fixture = SchemeFixture;

Fixture& paper_fixture() {
  static Fixture fixture(paper_scale_parameters(), 31);
  return fixture;
}

// A second key pair under the same parameters.
Fixture& other_keys_fixture() {
  static Fixture fixture(paper_scale_parameters(), 32);
  return fixture;
}

template <class Write>
std::string bytes_of(Write&& write) {
  std::ostringstream out(std::ios::binary);
  write(out);
  return out.str();
}

// An input stream that cannot seek (like a pipe), so lengths are found out by reading.
class PipeBuffer : public std::streambuf {
 public:
  explicit PipeBuffer(std::string bytes) : bytes_(std::move(bytes)) {
    setg(bytes_.data(), bytes_.data(), bytes_.data() + bytes_.size());
  }

 private:
  std::string bytes_;
};

// Recomputes the trailing SHA-256 after a deliberate edit, so that the content checks are reached.
std::string with_valid_checksum(std::string bytes) {
  const size_t body = bytes.size() - kSerializationChecksumBytes;
  const Sha256::Digest digest = sha256({reinterpret_cast<const uint8_t*>(bytes.data()), body});
  std::copy(digest.begin(), digest.end(), bytes.begin() + static_cast<ptrdiff_t>(body));
  return bytes;
}

void store_word(std::string& bytes, size_t offset, uint64_t value) {
  for (int i = 0; i < 8; ++i)
    bytes[offset + i] = static_cast<char>(value >> (8 * i));
}

size_t packed_polynomial_bytes(const Context& context) {
  size_t bytes = 0;
  for (const Modulus& q : context.q_base().moduli()) {
    bytes += (context.n() * std::bit_width(q.value()) + 63) / 64 * 8;
  }
  return bytes;
}

}  // namespace

TEST_CASE("parameters survive a round trip through a stream and a file") {
  TempDir dir;
  Parameters params = paper_scale_parameters();
  Parameters with_digits = params;
  with_digits.decomposition_bits = 16;
  with_digits.sigma = 3.19;
  for (const Parameters& p : {params, with_digits}) {
    std::istringstream in(bytes_of([&](std::ostream& out) { write_parameters(out, p); }));
    CHECK(read_parameters(in) == p);
    save_parameters(dir.file("params.bin"), p);
    const Parameters loaded = load_parameters(dir.file("params.bin"));
    CHECK(loaded == p);
    CHECK(loaded.fingerprint() == p.fingerprint());
  }
  Parameters invalid = params;
  invalid.n = 3000;
  std::ostringstream sink;
  CHECK_THROWS_AS(write_parameters(sink, invalid), std::invalid_argument);
}

TEST_CASE("keys survive a round trip, keep their key ids and are stored at 55 bits per residue") {
  Fixture& fx = paper_fixture();
  TempDir dir;
  save_public_key(dir.file("pk"), *fx.context, fx.keys.public_key);
  save_evaluation_key(dir.file("evk"), *fx.context, fx.keys.evaluation_key);
  save_secret_key(dir.file("sk"), *fx.context, fx.keys.secret_key);

  const PublicKey pk = load_public_key(dir.file("pk"), fx.context);
  CHECK(pk.h == fx.keys.public_key.h);
  CHECK(pk.key_id == fx.keys.public_key.key_id);
  const EvaluationKey evk = load_evaluation_key(dir.file("evk"), fx.context);
  REQUIRE(evk.gamma.size() == fx.keys.evaluation_key.gamma.size());
  for (size_t d = 0; d < evk.gamma.size(); ++d)
    CHECK(evk.gamma[d] == fx.keys.evaluation_key.gamma[d]);
  CHECK(evk.key_id == fx.keys.evaluation_key.key_id);
  const SecretKey sk = load_secret_key(dir.file("sk"), fx.context);
  CHECK(sk.f_prime == fx.keys.secret_key.f_prime);
  CHECK(sk.f == fx.keys.secret_key.f);  // rebuilt from f' and t
  CHECK(sk.key_id == fx.keys.secret_key.key_id);

  // 7 rows of 8192 residues at 55 bits: 394240 bytes instead of 458752 unpacked.
  const size_t poly = packed_polynomial_bytes(*fx.context);
  CHECK(poly == 7 * 8192 * 55 / 8);
  CHECK(fs::file_size(dir.file("pk")) == 32 + 8 + poly + 32);
  CHECK(fs::file_size(dir.file("evk")) == 32 + 16 + fx.context->digit_count() * poly + 32);
  CHECK(fs::file_size(dir.file("sk")) == 32 + 8192 / 4 + 32);  // 2 bits per coefficient
}

TEST_CASE(
    "loaded ciphertexts decrypt under the loaded secret key and relinearise with the loaded "
    "evaluation key") {
  Fixture& fx = paper_fixture();
  TempDir dir;
  const Plaintext m1 = fx.random(), m2 = fx.random();
  const Ciphertext c1 = fx.encrypt(m1), c2 = fx.encrypt(m2);
  const Ciphertext product = fx.evaluator.multiply_without_relinearization(c1, c2);
  REQUIRE(product.degree == 2);
  save_ciphertexts(dir.file("batch"), *fx.context, {c1, c2, product});
  save_secret_key(dir.file("sk"), *fx.context, fx.keys.secret_key);
  save_evaluation_key(dir.file("evk"), *fx.context, fx.keys.evaluation_key);
  save_public_key(dir.file("pk"), *fx.context, fx.keys.public_key);

  const auto batch = load_ciphertexts(dir.file("batch"), fx.context);
  REQUIRE(batch.size() == 3);
  CHECK(batch[0].parts[0] == c1.parts[0]);
  CHECK(batch[2].degree == 2);
  // Files carry no noise estimate (issue 14): a loaded ciphertext has that of a fresh encryption.
  CHECK(batch[2].noise_log2 == fx.evaluator.noise_model().fresh());
  for (const Ciphertext& ct : batch)
    CHECK(ct.key_id == fx.keys.public_key.key_id);

  const Decryptor decryptor(fx.context, load_secret_key(dir.file("sk"), fx.context));
  const Evaluator evaluator(fx.context, load_evaluation_key(dir.file("evk"), fx.context));
  const Plaintext expected_product = fx.plain.multiply(m1, m2);
  CHECK(decryptor.decrypt(batch[0]).coeffs == m1.coeffs);
  CHECK(decryptor.decrypt(batch[1]).coeffs == m2.coeffs);
  CHECK(decryptor.decrypt(batch[2]).coeffs == expected_product.coeffs);
  Ciphertext relinearised = batch[2];
  evaluator.relinearize_inplace(relinearised);
  CHECK(relinearised.degree == 1);
  CHECK(decryptor.decrypt(relinearised).coeffs == expected_product.coeffs);
  CHECK(decryptor.invariant_noise_budget(relinearised) > 10);

  const Encryptor encryptor(fx.context, load_public_key(dir.file("pk"), fx.context));
  const Plaintext m3 = fx.random();
  CHECK(decryptor.decrypt(encryptor.encrypt(m3, fx.prng)).coeffs == m3.coeffs);

  save_ciphertexts(dir.file("empty"), *fx.context, {});
  CHECK(load_ciphertexts(dir.file("empty"), fx.context).empty());
}

TEST_CASE("the streaming writer and reader produce and accept exactly the batch format") {
  Fixture& fx = paper_fixture();
  std::vector<Ciphertext> batch;
  for (int i = 0; i < 3; ++i)
    batch.push_back(fx.encrypt(fx.random()));
  const std::string whole =
      bytes_of([&](std::ostream& out) { write_ciphertexts(out, *fx.context, batch); });
  const uint64_t key_id = fx.keys.public_key.key_id;
  CHECK(whole.size() == ciphertext_batch_bytes(*fx.context, 3));
  CHECK(ciphertext_batch_bytes(*fx.context, 0) ==
        bytes_of([&](std::ostream& out) { write_ciphertexts(out, *fx.context, {}); }).size());

  std::ostringstream streamed(std::ios::binary);
  CiphertextWriter writer(streamed, fx.context, 3, key_id);
  for (const Ciphertext& ct : batch)
    writer.append(ct);
  CHECK_THROWS_AS(writer.append(batch[0]), std::invalid_argument);  // one more than declared
  writer.finish();
  CHECK(streamed.str() == whole);

  std::istringstream in(whole);
  CiphertextReader reader(in, fx.context);
  CHECK(reader.count() == 3);
  CHECK(reader.key_id() == key_id);
  const Ciphertext first = reader.next();
  CHECK(first.parts[0] == batch[0].parts[0]);
  CHECK_THROWS_AS(reader.finish(), std::logic_error);  // two still unread
  CHECK(reader.next().parts[0] == batch[1].parts[0]);
  CHECK(reader.next().parts[0] == batch[2].parts[0]);
  CHECK(reader.remaining() == 0);
  CHECK_THROWS_AS(reader.next(), std::logic_error);
  reader.finish();

  std::ostringstream short_batch(std::ios::binary);
  CiphertextWriter too_few(short_batch, fx.context, 2, key_id);
  too_few.append(batch[0]);
  CHECK_THROWS_AS(too_few.finish(), std::logic_error);
  Ciphertext foreign = batch[1];
  foreign.key_id = key_id + 1;
  CHECK_THROWS_WITH_AS(too_few.append(foreign), doctest::Contains("key id"), std::invalid_argument);

  // Objects can follow each other in one stream; each reader stops at its checksum.
  std::stringstream both(std::ios::in | std::ios::out | std::ios::binary);
  write_public_key(both, *fx.context, fx.keys.public_key);
  write_ciphertexts(both, *fx.context, batch);
  CHECK(read_public_key(both, fx.context).h == fx.keys.public_key.h);
  CHECK(read_ciphertexts(both, fx.context).size() == 3);
}

TEST_CASE("a flipped byte in the header, payload or checksum is refused as damage") {
  Fixture& fx = paper_fixture();
  TempDir dir;
  const std::string path = dir.file("pk");
  save_public_key(path, *fx.context, fx.keys.public_key);
  const std::string good = read_bytes(path);
  const size_t size = good.size();
  auto load_with_flip = [&](size_t position, uint8_t mask) {
    std::string bad = good;
    bad[position] = static_cast<char>(bad[position] ^ mask);
    write_bytes(path, bad);
    return error_of([&] { load_public_key(path, fx.context); });
  };
  CHECK(contains(load_with_flip(0, 0x01), "not a cryptonets file"));
  CHECK(contains(load_with_flip(3, 0x80), "not a cryptonets file"));
  CHECK(contains(load_with_flip(4, 0x01), "expected a public key"));
  CHECK(contains(load_with_flip(5, 0x01), "header byte 5 (scheme)"));
  CHECK(contains(load_with_flip(6, 0x04), "version"));
  // Version 3 -> 2 (no scheme byte) and -> 1 (noise estimates in clear): refused by name.
  CHECK(contains(load_with_flip(6, 0x01),
                 "format version 2 is no longer supported; this build reads 3 (written by an "
                 "older cryptonets"));
  CHECK(contains(load_with_flip(6, 0x02), "format version 1 is no longer supported"));
  // Fingerprint and key id: the checksum is checked before the fingerprint is believed.
  for (size_t position : {8, 15, 16, 23}) {
    CHECK(contains(load_with_flip(position, 0x10), "corrupted: checksum mismatch"));
  }
  const std::string length_error = load_with_flip(24, 0x08);
  CHECK((contains(length_error, "truncated") || contains(length_error, "trailing")));
  CHECK(contains(load_with_flip(31, 0x01), "truncated"));
  for (size_t position : {size_t{32}, size_t{40}, size / 2, size - 33}) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      CHECK(contains(load_with_flip(position, mask), "corrupted: checksum mismatch"));
    }
  }
  for (size_t position : {size - 32, size - 1}) {
    CHECK(contains(load_with_flip(position, 0x04), "corrupted: checksum mismatch"));
  }
  CHECK(contains(load_with_flip(40, 0x01), path));  // the message names the file

  // Fields with their own content checks (degree, f' codes) still report the checksum first.
  save_ciphertexts(dir.file("ct"), *fx.context, {fx.encrypt(fx.random())});
  std::string ct = read_bytes(dir.file("ct"));
  ct[32 + 8] ^= 0x06;  // degree 1 → 7
  write_bytes(dir.file("ct"), ct);
  CHECK(contains(error_of([&] { load_ciphertexts(dir.file("ct"), fx.context); }),
                 "corrupted: checksum mismatch"));
  save_secret_key(dir.file("sk"), *fx.context, fx.keys.secret_key);
  std::string sk = read_bytes(dir.file("sk"));
  sk[40] = static_cast<char>(0xff);  // four f' codes of 3
  write_bytes(dir.file("sk"), sk);
  CHECK(contains(error_of([&] { load_secret_key(dir.file("sk"), fx.context); }),
                 "corrupted: checksum mismatch"));
}

TEST_CASE("a truncated file or stream is refused as truncated, and trailing bytes are refused") {
  Fixture& fx = paper_fixture();
  TempDir dir;
  const std::string path = dir.file("ct");
  save_ciphertexts(path, *fx.context, {fx.encrypt(fx.random()), fx.encrypt(fx.random())});
  const std::string good = read_bytes(path);
  const size_t size = good.size();
  for (size_t length : {size_t{0}, size_t{1}, size_t{3}, size_t{4}, size_t{31}, size_t{32},
                        size_t{40}, size_t{1000}, size / 2, size - 33, size - 32, size - 1}) {
    CAPTURE(length);
    write_bytes(path, good.substr(0, length));
    const std::string from_file = error_of([&] { load_ciphertexts(path, fx.context); });
    CHECK(contains(from_file, "truncated"));
    CHECK(contains(from_file, path));
    PipeBuffer pipe(good.substr(0, length));
    std::istream in(&pipe);
    CHECK(contains(error_of([&] { read_ciphertexts(in, fx.context); }), "truncated"));
  }
  write_bytes(path, good + "x");
  CHECK(contains(error_of([&] { load_ciphertexts(path, fx.context); }), "trailing bytes"));

  // A header that claims 2^62 payload bytes is not believed before the bytes arrive.
  std::string huge = good.substr(0, 64);
  store_word(huge, 24, uint64_t{1} << 62);
  PipeBuffer pipe(huge);
  std::istream in(&pipe);
  CHECK(contains(error_of([&] { read_ciphertexts(in, fx.context); }), "truncated"));
  write_bytes(path, huge);
  CHECK(contains(error_of([&] { load_ciphertexts(path, fx.context); }), "truncated"));
}

TEST_CASE("objects made for other parameters are refused as such") {
  Fixture& fx = paper_fixture();
  const size_t n = 4096;
  Fixture small(Parameters::create(n, 3, 50, generate_ntt_primes(20, 1, 2 * n)[0]), 7);
  TempDir dir;
  save_ciphertexts(dir.file("ct"), *small.context, {small.encrypt(small.random())});
  const std::string message = error_of([&] { load_ciphertexts(dir.file("ct"), fx.context); });
  CHECK(contains(message, "made for other parameters"));
  CHECK(contains(message, "fingerprint"));
  save_public_key(dir.file("pk"), *small.context, small.keys.public_key);
  CHECK(
      contains(error_of([&] { load_public_key(dir.file("pk"), fx.context); }), "other parameters"));
  save_evaluation_key(dir.file("evk"), *small.context, small.keys.evaluation_key);
  CHECK(contains(error_of([&] { load_evaluation_key(dir.file("evk"), fx.context); }),
                 "other parameters"));
  save_secret_key(dir.file("sk"), *small.context, small.keys.secret_key);
  CHECK(
      contains(error_of([&] { load_secret_key(dir.file("sk"), fx.context); }), "other parameters"));
  // Writing an object with a context it does not belong to is a caller error.
  CHECK_THROWS_AS(save_public_key(dir.file("x"), *fx.context, small.keys.public_key),
                  std::invalid_argument);
}

TEST_CASE("ciphertexts and keys of another key pair load but are refused when used") {
  Fixture& fx = paper_fixture();
  Fixture& other = other_keys_fixture();
  TempDir dir;
  const Ciphertext theirs = other.encrypt(other.random());
  save_ciphertexts(dir.file("ct"), *other.context,
                   {theirs, other.evaluator.multiply_without_relinearization(theirs, theirs)});
  const auto loaded = load_ciphertexts(dir.file("ct"), fx.context);
  CHECK(loaded[0].key_id == other.keys.public_key.key_id);
  CHECK(loaded[0].key_id != fx.keys.public_key.key_id);
  CHECK_THROWS_WITH_AS(fx.decryptor.decrypt(loaded[0]), doctest::Contains("another key pair"),
                       std::invalid_argument);
  Ciphertext mine = fx.encrypt(fx.random());
  CHECK_THROWS_WITH_AS(fx.evaluator.add_inplace(mine, loaded[0]),
                       doctest::Contains("different keys"), std::invalid_argument);
  Ciphertext product = loaded[1];
  CHECK_THROWS_WITH_AS(fx.evaluator.relinearize_inplace(product),
                       doctest::Contains("another key pair"), std::invalid_argument);

  save_evaluation_key(dir.file("evk"), *other.context, other.keys.evaluation_key);
  const Evaluator foreign_evaluator(fx.context, load_evaluation_key(dir.file("evk"), fx.context));
  Ciphertext square = fx.evaluator.multiply_without_relinearization(mine, mine);
  CHECK_THROWS_WITH_AS(foreign_evaluator.relinearize_inplace(square),
                       doctest::Contains("another key pair"), std::invalid_argument);
}

TEST_CASE("a file of one kind loaded as another names both kinds") {
  Fixture& fx = paper_fixture();
  TempDir dir;
  save_public_key(dir.file("pk"), *fx.context, fx.keys.public_key);
  const std::string message = error_of([&] { load_ciphertexts(dir.file("pk"), fx.context); });
  CHECK(contains(message, "is a public key, expected a ciphertext batch"));
  save_secret_key(dir.file("sk"), *fx.context, fx.keys.secret_key);
  CHECK(contains(error_of([&] { load_public_key(dir.file("sk"), fx.context); }),
                 "is a secret key, expected a public key"));
  save_parameters(dir.file("params"), fx.context->parameters());
  CHECK(contains(error_of([&] { load_evaluation_key(dir.file("params"), fx.context); }),
                 "is parameters, expected an evaluation key"));
  CHECK(contains(error_of([&] { load_parameters(dir.file("pk")); }),
                 "is a public key, expected parameters"));
}

TEST_CASE("secret key files get mode 0600, also when they replace an existing 0644 file") {
  Fixture& fx = paper_fixture();
  TempDir dir;
  auto mode_of = [](const std::string& path) {
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    return info.st_mode & 07777;
  };
  save_secret_key(dir.file("new.sk"), *fx.context, fx.keys.secret_key);
  CHECK(mode_of(dir.file("new.sk")) == 0600);

  write_bytes(dir.file("old.sk"), "previous contents");
  REQUIRE(::chmod(dir.file("old.sk").c_str(), 0644) == 0);
  REQUIRE(mode_of(dir.file("old.sk")) == 0644);
  save_secret_key(dir.file("old.sk"), *fx.context, fx.keys.secret_key);
  CHECK(mode_of(dir.file("old.sk")) == 0600);
  CHECK(load_secret_key(dir.file("old.sk"), fx.context).f_prime == fx.keys.secret_key.f_prime);

  // A restrictive umask does not leave the owner without read/write either.
  const mode_t previous = ::umask(0277);
  save_secret_key(dir.file("umask.sk"), *fx.context, fx.keys.secret_key);
  ::umask(previous);
  CHECK(mode_of(dir.file("umask.sk")) == 0600);
  CHECK(dir.names() == std::vector<std::string>{"new.sk", "old.sk", "umask.sk"});
}

TEST_CASE("a failed save leaves the previous file intact and no temporary file behind") {
  Fixture& fx = paper_fixture();
  Fixture& other = other_keys_fixture();
  TempDir dir;
  const Ciphertext mine = fx.encrypt(fx.random());
  save_ciphertexts(dir.file("ct"), *fx.context, {mine});
  const std::string before = read_bytes(dir.file("ct"));
  CHECK_THROWS_WITH_AS(
      save_ciphertexts(dir.file("ct"), *fx.context, {mine, other.encrypt(other.random())}),
      doctest::Contains("key id"), std::invalid_argument);
  CHECK(read_bytes(dir.file("ct")) == before);
  CHECK(dir.names() == std::vector<std::string>{"ct"});

  // A streaming write abandoned half way (exception before commit).
  try {
    AtomicFileWriter file(dir.file("ct"), false);
    CiphertextWriter writer(file.stream(), fx.context, 2, fx.keys.public_key.key_id);
    writer.append(mine);
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  CHECK(read_bytes(dir.file("ct")) == before);
  CHECK(dir.names() == std::vector<std::string>{"ct"});

  // A process that ends without unwinding while it writes (SIGKILL, abort, or exit from a failed
  // thread start, as libgomp does) leaves nothing either: the file has no name until commit.
  for (int how : {0, 1}) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      AtomicFileWriter file(dir.file("ct"), false);
      file.stream() << std::string(1 << 20, 'x') << std::flush;
      if (how == 0) ::raise(SIGKILL);
      ::_exit(3);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(dir.names() == std::vector<std::string>{"ct"});
  }
  // Named temporaries of processes that no longer exist (file systems without O_TMPFILE) are
  // removed by the next writer of the same path.
  const pid_t gone = ::fork();
  REQUIRE(gone >= 0);
  if (gone == 0) ::_exit(0);
  REQUIRE(::waitpid(gone, nullptr, 0) == gone);
  write_bytes(dir.file("ct.tmp-" + std::to_string(gone) + "-0"), "stale");
  save_ciphertexts(dir.file("ct"), *fx.context, {mine});
  CHECK(dir.names() == std::vector<std::string>{"ct"});

  const std::string missing = dir.file("no-such-directory/ct");
  CHECK(contains(error_of([&] { save_ciphertexts(missing, *fx.context, {mine}); }), missing));
  CHECK(contains(error_of([&] { load_ciphertexts(missing, fx.context); }), missing));
}

TEST_CASE("outputs never replace a model profile, and a missing directory fails before the write") {
  TempDir dir;
  // A key set's DIR/model.profile (found by a tester: decrypt --out keys/model.profile replaced
  // it); only the profile writer may replace a profile, and nothing replaces a key file.
  const std::string profile = "cryptonets-profile 2\n# edited by hand\n";
  write_bytes(dir.file("model.profile"), profile);
  CHECK(contains(error_of([&] { AtomicFileWriter file(dir.file("model.profile"), false); }),
                 "it is a model profile"));
  CHECK(contains(error_of([&] { refuse_to_replace_key_file(dir.file("model.profile")); }),
                 "it is a model profile"));
  CHECK(read_bytes(dir.file("model.profile")) == profile);
  {
    AtomicFileWriter file(dir.file("model.profile"), false, false, /*may_replace_profile=*/true);
    file.stream() << "cryptonets-profile 2\n";
    file.commit();
  }
  CHECK(read_bytes(dir.file("model.profile")) == "cryptonets-profile 2\n");
  refuse_to_replace_key_file(dir.file("model.profile"), /*may_replace_profile=*/true);
  // Text that merely mentions a profile, or is shorter than the marker, is not one.
  write_bytes(dir.file("notes.txt"), "see cryptonets-profile 2");
  refuse_to_replace_key_file(dir.file("notes.txt"));
  write_bytes(dir.file("short.txt"), "cryptonets");
  refuse_to_replace_key_file(dir.file("short.txt"));
  Fixture& fx = paper_fixture();
  save_public_key(dir.file("public.key"), *fx.context, fx.keys.public_key);
  CHECK(
      contains(error_of([&] { AtomicFileWriter file(dir.file("public.key"), false, false, true); }),
               "it is a public key file"));

  // A new file in a directory that does not exist (or is a file): refused by name when the
  // commands check their outputs before any work, not only when the work is done.
  const std::string missing = dir.file("no-such-directory/out.txt");
  CHECK(contains(error_of([&] { file_replaced_by_write(missing); }),
                 "its directory '" + dir.file("no-such-directory") + "' does not exist"));
  CHECK(contains(error_of([&] { file_replaced_by_write(dir.file("notes.txt/out.txt")); }),
                 "'" + dir.file("notes.txt") + "' is not a directory"));
  CHECK(file_replaced_by_write(dir.file("new.txt")) == dir.file("new.txt"));
  CHECK_FALSE(std::filesystem::exists(dir.file("no-such-directory")));
}

TEST_CASE("content with a valid checksum is still checked: residues, degree, f', counts") {
  Fixture& fx = paper_fixture();
  const std::string ct = bytes_of(
      [&](std::ostream& out) { write_ciphertexts(out, *fx.context, {fx.encrypt(fx.random())}); });
  auto read_ct = [&](const std::string& bytes) {
    std::istringstream in(bytes);
    return error_of([&] { read_ciphertexts(in, fx.context); });
  };
  REQUIRE(read_ct(ct).empty());
  const size_t record = 32 + 16;  // header, count, parts
  std::string bad = ct;
  store_word(bad, record, 3);
  CHECK(contains(read_ct(with_valid_checksum(bad)), "ciphertext 1: degree 3, expected 1 or 2"));
  bad = ct;
  store_word(bad, record + 8, 1);
  CHECK(contains(read_ct(with_valid_checksum(bad)), "evaluation form, expected coefficient"));
  bad = ct;
  store_word(bad, record + 24, ~uint64_t{0});  // first residue's 55 bits all ones ≥ q_0
  // Ciphertexts and rows numbered from 1, coefficients by their power.
  CHECK(contains(read_ct(with_valid_checksum(bad)),
                 "invalid ciphertext 1: residue row 1 coefficient of x^"));
  CHECK(contains(read_ct(with_valid_checksum(bad)), "not below the prime"));
  bad = ct;
  store_word(bad, 32, 2);  // count 2, payload for 1
  CHECK(contains(read_ct(with_valid_checksum(bad)), "does not match 2 ciphertexts"));

  std::string sk =
      bytes_of([&](std::ostream& out) { write_secret_key(out, *fx.context, fx.keys.secret_key); });
  sk[32] = static_cast<char>(sk[32] | 0x03);
  std::istringstream sk_in(with_valid_checksum(sk));
  CHECK(contains(error_of([&] { read_secret_key(sk_in, fx.context); }), "code 3"));

  Parameters params = paper_scale_parameters();
  std::string p = bytes_of([&](std::ostream& out) { write_parameters(out, params); });
  store_word(p, 32, 3000);  // n
  std::istringstream p_in(with_valid_checksum(p));
  const std::string message = error_of([&] { read_parameters(p_in); });
  CHECK(contains(message, "invalid parameters"));
  CHECK(contains(message, "power of two"));
}

TEST_CASE("random bytes and random damage never crash a loader") {
  Fixture& fx = paper_fixture();
  std::mt19937_64 rng(2024);
  const std::array<char, 5> tags = {'P', 'K', 'E', 'S', 'C'};
  auto try_all_readers = [&](const std::string& bytes) {
    int refused = 0;
    auto attempt = [&](auto read) {
      std::istringstream in(bytes);
      try {
        read(in);
      } catch (const std::runtime_error&) {
        ++refused;
      }
    };
    attempt([](std::istream& in) { read_parameters(in); });
    attempt([&](std::istream& in) { read_public_key(in, fx.context); });
    attempt([&](std::istream& in) { read_evaluation_key(in, fx.context); });
    attempt([&](std::istream& in) { read_secret_key(in, fx.context); });
    attempt([&](std::istream& in) { read_ciphertexts(in, fx.context); });
    return refused;
  };
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes(rng() % 512, '\0');
    for (char& byte : bytes)
      byte = static_cast<char>(rng());
    if (trial % 2 == 1 && bytes.size() >= 32) {  // a plausible header with random fields
      bytes.replace(0, 4, "CNET");
      bytes[4] = tags[rng() % tags.size()];
      bytes[5] = 0;
      bytes[6] = 1;
      bytes[7] = 0;
      if (trial % 4 == 1) store_word(bytes, 8, fx.context->parameters().fingerprint());
      if (trial % 8 == 1) store_word(bytes, 24, rng() % 1024);
    }
    CHECK(try_all_readers(bytes) == 5);
  }
  // Random damage to valid records of every kind, including small records of parameters.
  const std::vector<std::string> valid = {
      bytes_of([&](std::ostream& out) { write_parameters(out, fx.context->parameters()); }),
      bytes_of([&](std::ostream& out) { write_secret_key(out, *fx.context, fx.keys.secret_key); }),
      bytes_of([&](std::ostream& out) {
        write_ciphertexts(out, *fx.context, {fx.encrypt(fx.random())});
      })};
  for (int trial = 0; trial < 60; ++trial) {
    std::string bytes = valid[static_cast<size_t>(trial) % valid.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    if (trial % 5 == 0) bytes.resize(rng() % bytes.size());
    if (bytes == valid[static_cast<size_t>(trial) % valid.size()]) continue;  // flips cancelled
    CHECK(try_all_readers(bytes) == 5);
  }
}
