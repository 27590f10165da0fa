// cryptonets encrypt (client): 28×28 IDX images (MNIST or one's own) -> one ciphertext file
// (io/protocol_files.hpp), with the public material only (parameter set and public keys). Images
// are batched across the slots (CryptoNets §3.1: slot s of ciphertext j holds pixel j of image s);
// more images than slots make several batches in the same file. Each batch is streamed to disk as
// it is encrypted.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/model_profile.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/model/range.hpp"

using cryptonets::inference::encrypt_batch;
using cryptonets::inference::EncryptedBatch;
using cryptonets::model::Model;
using cryptonets::model::require_plaintext_moduli;
using cryptonets::model::Shape;

namespace cryptonets::cli {

namespace {

void require_mnist_input(const Model& model) {  // the profile's shell
  const Shape& shape = model.input_shape;
  if (shape.channels != 1 || shape.height != static_cast<int64_t>(kMnistImageRows) ||
      shape.width != static_cast<int64_t>(kMnistImageCols)) {
    throw std::runtime_error("the model takes inputs of shape " + std::to_string(shape.channels) +
                             "x" + std::to_string(shape.height) + "x" +
                             std::to_string(shape.width) + "; IDX images are 1x28x28");
  }
}

// The encryption itself, under the scheme the key directory records.
template <class Scheme>
void encrypt_images(const OptionParser& options, const ModelProfile& profile, const Model& model,
                    int threads, size_t first, const std::optional<size_t>& wanted,
                    const std::optional<uint64_t>& seed) {
  const KeyDirectory keys(options.text("keys"));
  encoding::BasicEncryptionKeys<Scheme> encryption_keys =
      load_encryption_keys<Scheme>(keys.parameters, keys.public_keys);
  const BasicContextSet<Scheme> contexts = encryption_keys.contexts;
  check_against_profile(options, [&] {
    require_plaintext_moduli(profile.output_range(), plaintext_moduli_of(contexts));
  });
  require_one_key_set(key_set_files(keys));
  const std::vector<uint64_t> key_ids = key_ids_of(encryption_keys.public_keys);
  const encoding::BasicCrtEncryptionSet<Scheme> client(std::move(encryption_keys));

  // The file records what it was encrypted from, so that decrypt can tell the labels of the
  // whole images file from those of another data set of at least as many images: the SHA-256 of
  // the content parsed, from the one read that is checked and parsed (a second read could see
  // another file).
  ImageSource source;
  const MnistImages images =
      read_images_file(options.text("images"), verify_option(options), &source.sha256);
  source.images = images.count;
  if (first >= images.count) {
    throw std::runtime_error("--first " + std::to_string(first) + ": '" + options.text("images") +
                             "' holds " + std::to_string(images.count) + " images");
  }
  const size_t count = wanted.value_or(images.count - first);
  if (count > images.count - first) {
    throw std::runtime_error("--first " + std::to_string(first) + " --count " +
                             std::to_string(count) + ": '" + options.text("images") +
                             "' holds only " + std::to_string(images.count) + " images");
  }

  std::optional<Prng> seeded;
  if (seed) {
    std::printf(
        "WARNING: --seed makes the ciphertexts predictable: INSECURE, for reproduction only\n");
    seeded = Prng::insecure_seeded(*seed);
  }
  Prng prng = seeded ? *seeded : Prng::from_os_entropy();

  const size_t slots = client.slot_count();
  const size_t inputs = static_cast<size_t>(model.input_shape.size());
  const std::string out_path = options.text("out");
  // The profile's fingerprint: infer refuses the file on a server whose model has another one.
  BasicCiphertextFileWriter<Scheme> writer(out_path, contexts, key_ids, profile.fingerprint(),
                                           source, first, count, std::min(count, slots), inputs);
  StageProgressBars bars;
  const auto progress = [&](const std::string& stage, size_t modulus, size_t done, size_t total) {
    bars.update(stage, modulus, done, total);
  };
  for (uint64_t b = 0; b < writer.header().batch_count(); ++b) {
    const size_t batch_first = first + b * writer.header().batch_size;
    EncryptedBatch batch = encrypt_batch(
        client, model,
        quantised_images(model, images, batch_first, writer.header().images_in_batch(b)), prng,
        threads, {}, progress);
    bars.finish();
    Progress writing("writing batch " + std::to_string(b + 1), batch.ciphertext_count());
    writer.write(std::move(batch), [&] { writing.advance(); });
  }
  writer.commit();
  // Each count with its noun in the singular or plural ("encrypted 1 images in 1 batch(es)").
  std::printf("encrypted %s (from %zu) under %s in %s of up to %zu, %s: %s (%s)\n",
              counted(count, "image", "images").c_str(), first, Scheme::kName,
              counted(writer.header().batch_count(), "batch", "batches").c_str(), slots,
              counted(contexts.size(), "modulus", "moduli").c_str(),
              printable_text(out_path).c_str(),
              format_bytes(std::filesystem::file_size(out_path)).c_str());
}

}  // namespace

int run_encrypt(std::span<char* const> arguments) {
  OptionParser options(
      "encrypt",
      "Client: encrypts 28x28 IDX images (MNIST or one's own) for the server. Each image is\n"
      "quantised with the input scale of the server's model profile and placed in one slot of\n"
      "784 ciphertexts per plaintext modulus.\n"
      "Up to n images (the slot count) form one batch; more images make several batches, all\n"
      "in the one output file, whose header records the index of the first image (--first),\n"
      "the image count and the batch size: decrypt finds the matching labels from it. Needs\n"
      "DIR/params and DIR/public.key only; the scheme (YASHE' or BFV) is theirs.");
  options.add_value("keys", "DIR", "key directory written by cryptonets keygen", std::nullopt,
                    true);
  options.add_value("images", "FILE",
                    "IDX image file (gzipped or not) of 28x28 images, checked against the "
                    "SHA256SUMS beside it",
                    std::nullopt, true);
  add_no_verify_option(options);
  add_profile_options(options);
  options.add_value("first", "N",
                    "index of the first image to encrypt (recorded in the output file)", "0");
  options.add_value("count", "N", "how many images (default: all from --first)");
  options.add_value("out", "FILE",
                    "ciphertext file to write (replaces only encrypted images or an empty file)",
                    std::nullopt, true);
  add_threads_option(options);
  options.add_value("seed", "S", "INSECURE: derive the encryption noise from S, reproduction only");
  if (!options.parse(arguments)) return kExitSuccess;

  require_key_directory_option(options, {&KeyDirectory::parameters, &KeyDirectory::public_keys});
  refuse_output_over_inputs(options, {"out"}, {"images", "model", "profile"});
  refuse_output_over_checksum_files(options, {"out"}, {"images"});
  refuse_to_replace_other_than_batches(options, "out");
  const int threads = cli::threads_option(options);
  const size_t first = static_cast<size_t>(options.integer("first", 0, INT64_MAX));
  // Every value is read before any work or output: a malformed one is a usage error first.
  std::optional<size_t> count;
  if (options.has("count")) count = static_cast<size_t>(options.integer("count", 1, INT64_MAX));
  std::optional<uint64_t> seed;
  if (options.has("seed")) seed = static_cast<uint64_t>(options.integer("seed", 0, INT64_MAX));
  const ModelProfile profile = client_profile(options);
  const Model model = profile.input_model();  // input shape and scale only
  check_against_profile(options, [&] { require_mnist_input(model); });

  // The scheme is the key directory's (every file records it).
  if (protocol_file_scheme(KeyDirectory(options.text("keys")).parameters) == SchemeId::kBfv) {
    encrypt_images<bfv::Scheme>(options, profile, model, threads, first, count, seed);
  } else {
    encrypt_images<yashe::Scheme>(options, profile, model, threads, first, count, seed);
  }
  return kExitSuccess;
}

}  // namespace cryptonets::cli
