// cryptonets decrypt (client): encrypted scores from cryptonets infer -> exact integer scores (CRT
// recombination over the plaintext moduli, checked against the model's output bound) -> labels,
// accuracy against IDX labels, and optionally an exact comparison with the plain integer model.
// Which images the scores belong to comes from the file (its header records encrypt's --first), so
// that labels and plain images cannot be matched against the wrong slice.

#include <algorithm>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/model_profile.hpp"
#include "cryptonets/io/protocol_files.hpp"
#include "cryptonets/io/sha256.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/training/float_network.hpp"

using cryptonets::inference::decrypt_scores;
using cryptonets::inference::plain_scores;
using cryptonets::inference::predicted_labels;
using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::Model;
using cryptonets::model::quantise_pixels;
using cryptonets::model::RangeReport;
using cryptonets::model::require_plaintext_moduli;
using cryptonets::training::require_labels_below;

namespace cryptonets::cli {

namespace {

// Entries [first, first + count) must exist in a file of `available` entries.
void require_range(size_t first, size_t count, size_t available, const std::string& path) {
  if (first > available || count > available - first) {
    throw std::runtime_error(
        "'" + path + "' holds " + std::to_string(available) + " entries; the scores need entries " +
        std::to_string(first) + " to " + std::to_string(first + count - 1) +
        " (the scores file records encrypt --first " + std::to_string(first) + ")");
  }
}

// The plain integer model on the same images: how many images' scores differ from `decrypted`;
// `content_sha256` is set to the SHA-256 of the file's IDX content (as encrypt records it).
size_t plain_mismatches(const Model& model, const CompiledModel& compiled, const std::string& path,
                        bool verify, size_t first,
                        const std::vector<std::vector<mpz_class>>& decrypted, int threads,
                        Sha256::Digest& content_sha256) {
  const MnistImages images = read_images_file(path, verify, &content_sha256);
  require_range(first, decrypted.size(), images.count, path);
  std::vector<std::vector<int64_t>> quantised;
  for (size_t s = first; s < first + decrypted.size(); ++s) {
    const uint8_t* pixels = images.pixels.data() + s * kMnistImagePixels;
    quantised.push_back(
        quantise_pixels(model, std::vector<uint8_t>(pixels, pixels + kMnistImagePixels)));
  }
  const auto plain = plain_scores(compiled, quantised, threads);
  size_t mismatches = 0;
  for (size_t s = 0; s < decrypted.size(); ++s)
    mismatches += plain[s] != decrypted[s];
  return mismatches;
}

std::string hex_id(uint64_t id) {
  char text[24];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(id));
  return text;
}

// `--first`, if given, only confirms what the file records; a different value is a mistake.
void check_first_option(bool given, uint64_t given_first, uint64_t recorded,
                        const std::string& path) {
  if (given && given_first != recorded) {
    throw UsageError("--first " + std::to_string(given_first) + " contradicts '" + path +
                     "', which records first image " + std::to_string(recorded) +
                     " (encrypt --first " + std::to_string(recorded) +
                     "); leave --first out, decrypt reads it from the file");
  }
}

void write_labels(const std::vector<int>& labels, const std::optional<std::string>& path) {
  std::string text;
  for (int label : labels)
    text += std::to_string(label) + "\n";
  if (!path) {
    std::fputs(text.c_str(), stdout);
    return;
  }
  // Mode 0600, as the secret key: the labels are the data owner's private results (a trial: they
  // were written 0644, readable by every user of the machine).
  AtomicFileWriter file(*path, /*owner_only=*/true);
  file.stream() << text;
  file.commit();
}

// The true labels of the decrypted images, from --labels. The file holds either exactly as many
// labels as images were decrypted (theirs, in order), or, with --first, the labels of the whole
// images file that encrypt read: exactly as many as the scores file records that it held
// (`source_images`), from which the slice the scores record is taken. Any other count is
// refused: a label file of another data set would otherwise give a wrong accuracy (found by a
// tester; a file merely long enough, the 60,000 training labels for test images, was accepted).
std::vector<uint8_t> true_labels(const OptionParser& options, bool first_given, uint64_t first,
                                 size_t count, uint64_t source_images, size_t outputs) {
  const std::string path = options.text("labels");
  const MnistLabels file = read_labels_file(path, verify_option(options));
  const size_t held = file.labels.size();
  size_t from = 0;
  if (first_given) {
    if (held != source_images) {
      throw std::runtime_error(
          "'" + path + "' holds " + std::to_string(held) +
          " labels, but the images file that encrypt read held " + std::to_string(source_images) +
          " images (the scores file records it): these are the labels of another data set. With "
          "--first, --labels must hold the labels of the whole images file that encrypt read");
    }
    require_range(first, count, held, path);
    from = first;
  } else if (held != count) {
    const std::string last = std::to_string(first + count - 1);
    throw std::runtime_error(
        "'" + path + "' holds " + std::to_string(held) + " labels, but " + std::to_string(count) +
        " images were decrypted (images " + std::to_string(first) + " to " + last +
        " of the file encrypt read): the counts differ. Give the labels of these images, or, if '" +
        path +
        "' holds the labels of the whole images file, confirm where the scores start in it " +
        "with --first " + std::to_string(first));
  }
  const std::span<const uint8_t> slice = std::span(file.labels).subspan(from, count);
  require_labels_below(slice, static_cast<int>(outputs),
                       "'" + path + "' from index " + std::to_string(from) + " (the model has " +
                           std::to_string(outputs) + " outputs)");
  return std::vector<uint8_t>(slice.begin(), slice.end());
}

// What decrypt's outputs may replace (besides an empty file): a labels file (decimal labels, one
// per line) or a scores CSV (write_scores), that of an earlier run. Only the first 64 KiB are read.
bool is_decrypt_output(std::istream& existing) {
  std::string head(64 * 1024, '\0');
  existing.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(existing.gcount()));
  if (head.rfind("image,label,predicted", 0) == 0) return true;
  return !head.empty() && std::all_of(head.begin(), head.end(),
                                      [](char c) { return (c >= '0' && c <= '9') || c == '\n'; });
}

// The scores as CSV: image (its index in the client's image file), label (empty when no --labels),
// predicted, then score_0 .. score_{C-1}, exact integers printed from GMP (they reach ~80 bits).
void write_scores(const std::string& path, uint64_t first,
                  const std::vector<std::vector<mpz_class>>& scores, const std::vector<int>& labels,
                  const std::optional<std::vector<uint8_t>>& truth) {
  std::string text = "image,label,predicted";
  for (size_t c = 0; c < (scores.empty() ? 0 : scores.front().size()); ++c)
    text += ",score_" + std::to_string(c);
  text += "\n";
  for (size_t s = 0; s < scores.size(); ++s) {
    text += std::to_string(first + s) + ",";
    if (truth) text += std::to_string((*truth)[s]);
    text += "," + std::to_string(labels[s]);
    for (const mpz_class& score : scores[s])
      text += "," + score.get_str();
    text += "\n";
  }
  AtomicFileWriter file(path, /*owner_only=*/true);  // mode 0600, as the labels
  file.stream() << text;
  file.commit();
}

// The scores of every batch, decrypted under the scheme the key directory records; the file's
// header is kept for the checks that follow.
template <class Scheme>
std::vector<std::vector<mpz_class>> decrypt_file(const OptionParser& options,
                                                 const ModelProfile& profile,
                                                 const RangeReport& ranges, bool first_given,
                                                 uint64_t given_first, ProtocolHeader& header) {
  const KeyDirectory keys(options.text("keys"));
  warn_if_secret_key_exposed("decrypt", keys.secret_keys);
  encoding::BasicDecryptionKeys<Scheme> decryption_keys =
      load_decryption_keys<Scheme>(keys.parameters, keys.secret_keys);
  const BasicContextSet<Scheme> contexts = decryption_keys.contexts;
  check_against_profile(options,
                        [&] { require_plaintext_moduli(ranges, plaintext_moduli_of(contexts)); });
  require_one_key_set(key_set_files(keys));
  const std::vector<uint64_t> key_ids = key_ids_of(decryption_keys.secret_keys);
  const encoding::BasicCrtDecryptionSet<Scheme> client(std::move(decryption_keys));

  const std::string in_path = options.text("in");
  BasicCiphertextFileReader<Scheme> reader(in_path, contexts, key_ids);
  header = reader.header();
  // An images file from encrypt answers none; its 784 values per image are not a profile
  // problem (a tester's run blamed the profile).
  if (header.answers_file_id == 0) {
    throw std::runtime_error("'" + in_path +
                             "' holds encrypted images (written by cryptonets encrypt), not "
                             "scores: decrypt reads the scores file that cryptonets infer writes "
                             "from it");
  }
  const uint64_t first = header.first_image;
  check_first_option(first_given, given_first, first, in_path);
  if (options.has("request")) {
    const std::string request = options.text("request");
    const ProtocolHeader sent = read_protocol_header(request);
    if (sent.kind != ProtocolFileKind::kCiphertexts || sent.answers_file_id != 0) {
      throw std::runtime_error("--request '" + request +
                               "' is not an encrypted images file from cryptonets encrypt");
    }
    if (header.answers_file_id != sent.file_id) {
      throw std::runtime_error("'" + in_path + "' answers the images file with id " +
                               hex_id(header.answers_file_id) + ", not '" + request + "' (id " +
                               hex_id(sent.file_id) + "): scores of other images");
    }
  }
  // The scores of a batch encrypted with another profile (infer copies its fingerprint): the
  // bound they are decoded against is this profile's, another model's.
  if (header.profile_fingerprint != profile.fingerprint()) {
    throw profile_error(options, "file '" + in_path +
                                     "' holds the scores of images encrypted "
                                     "with another model profile (fingerprint 0x" +
                                     hex_id(header.profile_fingerprint) + ") than this one (0x" +
                                     hex_id(profile.fingerprint()) +
                                     "): decrypt with the profile the images were encrypted with");
  }
  if (header.values != profile.outputs) {
    throw profile_error(options, "file '" + in_path + "' holds " + std::to_string(header.values) +
                                     " scores per image, the model has " +
                                     std::to_string(profile.outputs) +
                                     " outputs: the scores come from another model than the one "
                                     "the profile describes");
  }
  std::vector<std::vector<mpz_class>> scores;
  while (reader.batches_left() > 0) {
    try {
      for (auto& row : decrypt_scores(client, reader.next(), ranges.output().bound, {},
                                      cli::threads_option(options)))
        scores.push_back(std::move(row));
    } catch (const encoding::OutOfBoundError& error) {
      // The file is intact (checksums, key ids) and its noise budget left: a score beyond the
      // model's worst case means another model made it. A tester's run said "the computation
      // wrapped modulo T or the data is corrupted" here.
      throw profile_error(
          options, "a score of the image at index " +
                       std::to_string(first + scores.size() + error.slot()) + " decrypts to " +
                       error.value().get_str() +
                       ", beyond the model's worst-case output bound of " +
                       std::to_string(ranges.output().bits) + " bits: the scores in '" + in_path +
                       "' were not computed by the model that the profile describes (the server "
                       "ran another model, or the profile is another model's)");
    }
  }
  reader.finish();
  return scores;
}

}  // namespace

int run_decrypt(std::span<char* const> arguments) {
  OptionParser options(
      "decrypt",
      "Client: decrypts the scores file from cryptonets infer with DIR/secret.key (the scheme,\n"
      "YASHE' or BFV, is the key directory's), recombines\n"
      "each score exactly over the plaintext moduli (refusing a value outside the model's output\n"
      "bound or an exhausted noise budget) and writes the predicted label of every image, one\n"
      "per line. With --labels it reports the accuracy; with --plain-images it checks that the\n"
      "scores equal the plain integer model's on those images exactly (exit 1 and no labels\n"
      "written if not). The plain images are taken from the index that encrypt --first chose:\n"
      "the scores file records it; so are the labels when --first confirms it, else --labels\n"
      "must hold exactly one label per decrypted image. With --scores it also writes the exact\n"
      "integer scores (CSV).\n"
      "Without --out the labels go to stdout and the report to stderr.");
  options.add_value("keys", "DIR", "key directory written by cryptonets keygen", std::nullopt,
                    true);
  options.add_value("in", "FILE", "encrypted scores from cryptonets infer", std::nullopt, true);
  add_profile_options(options);
  options.add_value("out", "FILE", "write the predicted labels here (one per line)");
  options.add_value("labels", "FILE",
                    "IDX label file: report the accuracy. It holds the labels of the decrypted "
                    "images, or with --first those of the whole images file encrypt read (as "
                    "many as it held: the scores file records the count)");
  options.add_value("plain-images", "FILE",
                    "IDX image file: compare with the plain integer model on these images "
                    "(needs --model: a check for whoever holds the model; with --profile too, "
                    "--model must be the profile's model)");
  add_no_verify_option(options);
  options.add_value("request", "FILE",
                    "optional check: the encrypted images file sent to the server; the scores "
                    "must answer it (its file id)");
  options.add_value(
      "scores", "FILE",
      "also write the exact integer scores as CSV: image,label,predicted,score_0,...");
  options.add_value("first", "N",
                    "encrypt's --first, which the scores file records (exit 2 if not): says that "
                    "--labels holds the labels of the whole images file");
  add_threads_option(options, "worker threads (decryption, and --plain-images)");
  if (!options.parse(arguments)) return kExitSuccess;

  // Parsed now so that a malformed value fails before any work; compared with the file later.
  const bool first_given = options.has("first");
  const uint64_t given_first =
      first_given ? static_cast<uint64_t>(options.integer("first", 0, INT64_MAX)) : 0;
  const int threads = cli::threads_option(options);
  const std::optional<std::string> out_path =
      options.has("out") ? std::optional(options.text("out")) : std::nullopt;
  std::FILE* report = out_path ? stdout : stderr;
  require_key_directory_option(options, {&KeyDirectory::parameters, &KeyDirectory::secret_keys});
  refuse_output_over_inputs(options, {"out", "scores"},
                            {"in", "labels", "plain-images", "request", "model", "profile"});
  refuse_output_over_checksum_files(options, {"out", "scores"}, {"labels", "plain-images"});
  // Any other file is not decrypt's to destroy (a new user's trial: --out and --scores replaced an
  // encrypted batch, a model and a data set's gzipped labels, exit 0), as encrypt's --out.
  for (const std::string output : {"out", "scores"}) {
    refuse_to_replace_other_than(options, output, is_decrypt_output,
                                 "a labels file or scores CSV of decrypt", "");
  }

  if (options.has("plain-images") && !options.has("model")) {
    throw UsageError("--plain-images compares with the plain model: give --model FILE");
  }
  const ModelProfile profile = client_profile(options);
  const RangeReport ranges = profile.output_range();
  ProtocolHeader header;
  const std::vector<std::vector<mpz_class>> scores =
      protocol_file_scheme(KeyDirectory(options.text("keys")).parameters) == SchemeId::kBfv
          ? decrypt_file<bfv::Scheme>(options, profile, ranges, first_given, given_first, header)
          : decrypt_file<yashe::Scheme>(options, profile, ranges, first_given, given_first, header);
  const uint64_t first = header.first_image;
  const std::vector<int> labels = predicted_labels(scores);

  // Everything is checked before the labels are written.
  std::optional<size_t> correct;
  std::optional<std::vector<uint8_t>> truth;
  if (options.has("labels")) {
    truth = true_labels(options, first_given, first, labels.size(), header.source.images,
                        profile.outputs);
    correct = 0;
    for (size_t s = 0; s < labels.size(); ++s)
      *correct += labels[s] == (*truth)[s];
  }
  std::optional<size_t> mismatches;
  Sha256::Digest plain_sha256{};
  if (options.has("plain-images")) {
    const Model model = load_model(options.text("model"));
    mismatches = plain_mismatches(model, compile_model(model), options.text("plain-images"),
                                  verify_option(options), first, scores, threads, plain_sha256);
  }
  if (mismatches && *mismatches != 0) {
    // A failed check writes no labels. Another images file than encrypt's (a trial: the training
    // images) is said to be the cause: "DIFFER on 20 of 20" alone suggested a wrong result.
    std::string cause;
    if (header.source.sha256 != Sha256::Digest{} && plain_sha256 != header.source.sha256) {
      cause = ": --plain-images '" + options.text("plain-images") +
              "' is not the images file the batch was encrypted from (its content's SHA-256 is " +
              to_hex(plain_sha256).substr(0, 16) + "..., the scores file records " +
              to_hex(header.source.sha256).substr(0, 16) +
              "...); give the file encrypt --images read";
    }
    throw std::runtime_error("encrypted scores DIFFER from the plain integer model's on " +
                             std::to_string(*mismatches) + " of " + std::to_string(labels.size()) +
                             " images" + cause);
  }
  if (options.has("scores")) write_scores(options.text("scores"), first, scores, labels, truth);
  write_labels(labels, out_path);

  std::fprintf(report, "decrypted %s (from %llu)%s%s\n",
               counted(labels.size(), "image", "images").c_str(),
               static_cast<unsigned long long>(first), out_path ? ": " : "",
               out_path ? printable_text(*out_path).c_str() : "");
  if (options.has("scores"))
    std::fprintf(report, "scores (CSV): %s\n", printable_text(options.text("scores")).c_str());
  if (correct) {
    std::fprintf(report, "accuracy: %.2f%% (%zu/%zu)\n", 100.0 * *correct / labels.size(), *correct,
                 labels.size());
  }
  if (mismatches) {
    std::fprintf(report, "encrypted scores equal the plain integer model's on %s\n",
                 labels.size() == 1 ? "the 1 image"
                                    : ("all " + std::to_string(labels.size()) + " images").c_str());
  }
  return kExitSuccess;
}

}  // namespace cryptonets::cli
