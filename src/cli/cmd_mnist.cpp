// cryptonets mnist: the main job. The whole protocol in one process on the shipped model and the
// MNIST test images (or another model and the test images of its IDX data set, --data): key
// generation, encryption (client), the network on ciphertexts (server, public and evaluation keys
// only), decryption (client); then the paper-style table (CryptoNets, ICML 2016, Table 2: time per
// stage), accuracy, throughput, latency, message sizes, the noise budget left after each layer, and
// whether the encrypted predictions equal the plain ones. --scheme yashe|bfv.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "cryptonets/bfv/security.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/inference/private_inference.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/model/range.hpp"
#include "cryptonets/training/float_network.hpp"
#include "cryptonets/yashe/security.hpp"

using cryptonets::inference::BasicInferenceOptions;
using cryptonets::inference::BfvParameterChoice;
using cryptonets::inference::decrypt_scores;
using cryptonets::inference::encrypt_batch;
using cryptonets::inference::EncryptedBatch;
using cryptonets::inference::infer;
using cryptonets::inference::ParameterChoice;
using cryptonets::inference::plain_scores;
using cryptonets::inference::predicted_labels;
using cryptonets::inference::preset;
using cryptonets::inference::select_bfv_parameters;
using cryptonets::inference::StageReport;
using cryptonets::inference::StageSummary;
using cryptonets::inference::StageTotals;
using cryptonets::model::compile_model;
using cryptonets::model::CompiledModel;
using cryptonets::model::Model;
using cryptonets::model::RangeReport;
using cryptonets::model::require_plaintext_moduli;
using cryptonets::model::track_ranges;
using cryptonets::training::require_classes_match;
using cryptonets::training::require_labels_below;

namespace cryptonets::cli {

namespace {

using Clock = std::chrono::steady_clock;

// The first columns of both CSV outputs (--csv, --summary-csv): what an earlier run's CSV, which
// they may replace, starts with.
constexpr std::string_view kCsvPrefixHeader = "preset,n,log2_q,moduli,threads,images,";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Whether a stage's output has a noise budget: the decryption's are plaintexts (its report
// carries the budget of the ciphertexts it read, which the row before already shows).
bool has_noise_budget(const std::string& stage) {
  return stage != "decrypt+decode";
}

// The stage table: the folded rows (sizes per batch) and every report, for the CSV file.
class StageTable {
 public:
  void add(size_t batch, const StageReport& report) {
    all_.push_back({batch, report});
    summary_.add(report, batch == 0);
  }
  const std::vector<StageTotals>& rows() const { return summary_.rows(); }
  double total_seconds() const { return summary_.total_seconds(); }
  double batch_seconds(size_t batch) const {
    double total = 0;
    for (const auto& [b, report] : all_)
      if (b == batch) total += report.seconds;
    return total;
  }
  void write_csv(const std::string& path, const std::string& prefix,
                 const std::string& prefix_header) const {
    AtomicFileWriter file(path, false);  // never over a key file, a device or half-written
    std::ostream& out = file.stream();
    out << prefix_header
        << "batch,stage,layer,modulus,seconds,ciphertexts,memory_bytes,predicted_budget_bits,"
           "measured_budget_bits\n";
    // Batches counted from 1, as the moduli and layers are.
    for (const auto& [batch, r] : all_) {
      out << prefix << batch + 1 << ',' << r.stage << ','
          << (r.layer_index ? std::to_string(*r.layer_index + 1) : "")
          << ','
          // The decryption reads every modulus at once (CRT): no modulus (not 1), and an empty
          // field, not a word, so that the column stays numeric for its readers.
          << (r.stage == "decrypt+decode" ? std::string() : std::to_string(r.modulus_index + 1))
          << ',' << r.seconds << ',' << r.ciphertexts << ',' << r.memory_bytes << ',';
      if (has_noise_budget(r.stage)) {
        out << r.predicted_noise_budget << ','
            << (r.measured_noise_budget ? std::to_string(*r.measured_noise_budget) : "");
      } else {
        out << ',';
      }
      out << '\n';
    }
    if (!out.flush()) throw std::runtime_error("cannot write " + path + ": " + file.failure());
    file.commit();
  }

 private:
  std::vector<std::pair<size_t, StageReport>> all_;
  StageSummary summary_;
};

void print_stage_table(const StageTable& table) {
  // Wider than 22 only for long names ("5. dense + 6. poly (folded)"), so that columns align.
  int width = 22;
  for (const StageTotals& row : table.rows())
    width = std::max(width, static_cast<int>(row.label().size()));
  std::printf("\n%-*s %10s %12s %12s %16s\n", width, "stage", "time (s)", "ciphertexts", "memory",
              "noise left (bits)");
  std::printf("%-*s %10s %12s %12s %16s\n", width, "", "", "(per batch)", "(per batch)",
              "measured/model");
  for (const StageTotals& row : table.rows()) {
    const std::string name = row.label();
    char budget[48];
    if (!has_noise_budget(row.stage)) {
      std::snprintf(budget, sizeof budget, "-");
    } else if (row.measured_noise_budget) {
      std::snprintf(budget, sizeof budget, "%.1f / %.1f", *row.measured_noise_budget,
                    row.predicted_noise_budget);
    } else {
      std::snprintf(budget, sizeof budget, "- / %.1f", row.predicted_noise_budget);
    }
    std::printf("%-*s %10.2f %12zu %12s %16s\n", width, name.c_str(), row.seconds, row.ciphertexts,
                format_bytes(row.memory_bytes).c_str(), budget);
  }
  std::printf("%-*s %10.2f\n", width, "total", table.total_seconds());
}

// What differs between the schemes in the main job: the parameters, their one-line security
// verdict and description, and the size of a ciphertext message.
template <class Scheme>
struct MnistSetup {
  std::string name;
  typename Scheme::Parameters params;
  std::vector<uint64_t> plaintext_moduli;
  std::string security_line;
};

// Bytes of `count` ciphertexts as sent: YASHE' in its file format (io/serialize.hpp); BFV, which
// has no file format yet, as its residues packed at the primes' width (two parts each).
template <class Scheme>
uint64_t message_bytes(const typename Scheme::Context& context, uint64_t count) {
  if constexpr (std::is_same_v<Scheme, yashe::Scheme>) {
    return ciphertext_batch_bytes(context, count);
  } else {
    uint64_t bits = 0;
    for (const Modulus& q : context.q_base().moduli())
      bits += static_cast<uint64_t>(q.bits()) * context.n();
    return count * 2 * ((bits + 63) / 64) * 8;
  }
}

// The values of the options, all read before anything is printed: a malformed one is a usage
// error that comes first (found by a tester: `mnist --seed abc` printed the parameters first).
struct MnistOptions {
  int threads = 1;
  size_t wanted = 0;                 // --images; 0: every test image
  std::optional<size_t> batch_size;  // --batch, checked against n once the parameters are known
  std::optional<uint64_t> seed;
};

template <class Scheme>
int run_mnist_with(const OptionParser& options, const MnistOptions& values, const Model& model,
                   const MnistSetup<Scheme>& setup) {
  const int threads = values.threads;
  const size_t wanted = values.wanted;
  const CompiledModel compiled = compile_model(model);
  const RangeReport ranges = track_ranges(model);
  // The data first: a checksum or label problem stops the job before any key is made.
  const std::string data_directory = options.text("data");
  const MnistSet test = [&] {
    try {
      return load_data_split(data_directory, MnistSplit::kTest, verify_option(options));
    } catch (const std::runtime_error& error) {
      // A default --data under CRYPTONETS_DATA: the variable is what to fix, as for the model.
      if (options.given("data") || default_data_source().empty()) throw;
      throw std::runtime_error(error.what() + default_data_source());
    }
  }();
  require_labels_below(test.labels.labels, static_cast<int>(compiled.output_size),
                       "'" + split_labels_file(data_directory, MnistSplit::kTest).string() +
                           "' (the model '" + options.text("model") + "' has " +
                           std::to_string(compiled.output_size) + " outputs)");
  // A model of more outputs than the data's classes is for another data set (a trial: the shipped
  // 10-class model, --model not given, ran a 4-class --data at 40 %, exit 0). The data's classes
  // are the largest training label + 1 (README: Your own data; cryptonets-train's count), not the
  // test labels': a test split without the top class was refused as another data set (a review).
  const std::string train_labels = split_labels_file(data_directory, MnistSplit::kTrain).string();
  require_classes_match(read_labels_file(train_labels, verify_option(options)).labels,
                        static_cast<int>(compiled.output_size), "'" + train_labels + "'",
                        "the model '" + options.text("model") + "'" +
                            (options.given("model") ? "" : " (the default of --model)"));
  const auto& params = setup.params;
  require_plaintext_moduli(ranges, setup.plaintext_moduli);
  if (wanted > test.images.count) {
    throw UsageError("--images " + std::to_string(wanted) + ": the test set has " +
                     std::to_string(test.images.count) + " images");
  }

  warn_insecure_ring_degree(options, setup.params.n);
  std::printf("%s\n", setup.security_line.c_str());
  std::printf("parameters (%s): %s\n", setup.name.c_str(), params.describe().c_str());
  std::printf("plaintext moduli: %zu x %d bits (outputs need %d bits); model: %s\n",
              setup.plaintext_moduli.size(),
              static_cast<int>(std::bit_width(setup.plaintext_moduli[0])), ranges.output_bits(),
              printable_text(options.text("model")).c_str());
  if (compiled.output_factor != 1) {
    std::printf(
        "output factor: %s (the compiled network, and so every decrypted score, is this multiple "
        "of the model's outputs: polynomial layers, model/layers.hpp)\n",
        cryptonets::model::describe_output_factor(compiled).c_str());
  }

  std::optional<Prng> seeded;
  if (values.seed) {
    std::printf(
        "WARNING: --seed makes every key and ciphertext predictable: INSECURE, for "
        "reproduction only\n");
    seeded = Prng::insecure_seeded(*values.seed);
  }
  Prng prng = seeded ? *seeded : Prng::from_os_entropy();

  const size_t count = wanted == 0 ? test.images.count : wanted;
  const size_t batch_size = values.batch_size.value_or(params.n);
  const size_t batches = (count + batch_size - 1) / batch_size;
  std::printf("images: %s of %s (%zu classes) in %s of up to %zu; threads: %d\n",
              counted(count, "test image", "test images").c_str(),
              printable_text(data_directory).c_str(), compiled.output_size,
              counted(batches, "batch", "batches").c_str(), batch_size, threads);

  auto start = Clock::now();
  const auto keys = encoding::BasicCrtKeys<Scheme>::generate(params, setup.plaintext_moduli, prng);
  const double keygen_seconds = seconds_since(start);
  // What the server holds: no secret key.
  const encoding::BasicCrtEncryptionSet<Scheme> server(keys);
  const encoding::BasicCrtDecryptionSet<Scheme> client(keys);

  StageTable table;
  StageProgressBars bars;
  const auto progress = [&](const std::string& stage, size_t modulus, size_t done, size_t total) {
    bars.update(stage, modulus, done, total);
  };
  std::vector<int> encrypted_labels;
  std::vector<std::vector<mpz_class>> encrypted_scores;
  for (size_t b = 0; b < batches; ++b) {
    const size_t first = b * batch_size, size = std::min(batch_size, count - first);
    const auto observe = [&](const StageReport& report) {
      bars.finish();
      table.add(b, report);
    };
    const auto images = quantised_images(model, test.images, first, size);
    EncryptedBatch batch = encrypt_batch(server, model, images, prng, threads, observe, progress);
    BasicInferenceOptions<Scheme> inference;
    inference.threads = threads;
    inference.observe = observe;
    inference.progress = progress;
    inference.prng = &prng;  // the output re-randomisation: seeded too under --seed
    if (!options.flag("no-noise")) inference.secret_keys_for_diagnostics = &client;
    const EncryptedBatch scores = infer(server, compiled, std::move(batch), inference);
    auto decrypted = decrypt_scores(client, scores, ranges.output().bound, observe, threads);
    for (auto& row : decrypted)
      encrypted_scores.push_back(std::move(row));
  }
  bars.finish();
  encrypted_labels = predicted_labels(encrypted_scores);

  start = Clock::now();
  const auto plain =
      plain_scores(compiled, quantised_images(model, test.images, 0, count), threads);
  const double plain_seconds = seconds_since(start);
  const std::vector<int> plain_labels = predicted_labels(plain);
  size_t encrypted_correct = 0, plain_correct = 0, score_mismatches = 0;
  for (size_t s = 0; s < count; ++s) {
    encrypted_correct += encrypted_labels[s] == test.labels.labels[s];
    plain_correct += plain_labels[s] == test.labels.labels[s];
    score_mismatches += encrypted_scores[s] != plain[s];
  }

  print_stage_table(table);
  uint64_t upload = 0, download = 0;
  for (const auto& context : keys.contexts) {
    upload += message_bytes<Scheme>(*context, compiled.input_size);
    download += message_bytes<Scheme>(*context, compiled.output_size);
  }
  const double total = table.total_seconds();
  const double latency = table.batch_seconds(0);
  const double per_hour = static_cast<double>(count) / total * 3600;
  const bool agree = score_mismatches == 0;
  std::printf("\nkey generation: %.2f s (%s)\n", keygen_seconds,
              counted(keys.keys.size(), "key set", "key sets").c_str());
  std::printf("messages per batch: client -> server %s, server -> client %s\n",
              format_bytes(upload).c_str(), format_bytes(download).c_str());
  std::printf("latency (one batch, encrypt to decrypt): %.2f s\n", latency);
  std::printf("throughput: %.0f predictions per hour\n", per_hour);
  std::printf("accuracy: encrypted %.2f%% (%zu/%zu), plain integer %.2f%% (plain run %.2f s)\n",
              100.0 * encrypted_correct / count, encrypted_correct, count,
              100.0 * plain_correct / count, plain_seconds);
  std::printf("encrypted scores equal the plain integer network's: %s\n",
              agree
                  ? "yes, on every image"
                  : ("NO: " + counted(score_mismatches, "image differs", "images differ")).c_str());

  const std::string prefix_header(kCsvPrefixHeader);
  char prefix[160];
  std::snprintf(prefix, sizeof prefix, "%s,%zu,%.1f,%zu,%d,%zu,", setup.name.c_str(), params.n,
                params.log2_q(), setup.plaintext_moduli.size(), threads, count);
  if (options.has("csv")) table.write_csv(options.text("csv"), prefix, prefix_header);
  if (options.has("summary-csv")) {
    AtomicFileWriter file(options.text("summary-csv"), false);
    std::ostream& out = file.stream();
    out << prefix_header
        << "batches,keygen_seconds,total_seconds,latency_seconds,predictions_per_hour,"
           "upload_bytes,download_bytes,encrypted_accuracy,plain_accuracy,agree\n"
        << prefix << batches << ',' << keygen_seconds << ',' << total << ',' << latency << ','
        << per_hour << ',' << upload << ',' << download << ','
        << static_cast<double>(encrypted_correct) / count << ','
        << static_cast<double>(plain_correct) / count << ',' << (agree ? "yes" : "no") << '\n';
    if (!out.flush()) {
      throw std::runtime_error("cannot write " + options.text("summary-csv") + ": " +
                               file.failure());
    }
    file.commit();
  }
  return agree ? kExitSuccess : kExitFailure;
}

}  // namespace

int run_mnist(std::span<char* const> arguments) {
  // The main job reports as it goes (minutes at full size): line by line into a pipe or file
  // too, as on a terminal. Stopped by Ctrl-C in `cryptonets mnist | tee log`, it printed nothing
  // at all, not even its security line, from a block buffer never flushed (a trial). (Not for
  // every command: keygen | head would then stop keygen at its first line, before its keys.)
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  OptionParser options(
      "mnist",
      "The main job: encrypted MNIST inference with the shipped model. Generates keys, encrypts\n"
      "the test images in batches of n (one image per slot), evaluates the network on the\n"
      "ciphertexts with the public and evaluation keys only, decrypts the scores and compares\n"
      "them with the plain integer network. Everything runs in this process; the noise budget\n"
      "column is measured with the secret key as a client-side diagnostic. With --data and\n"
      "--model it runs one's own data set (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) and\n"
      "the model cryptonets-quantise made for it. --scheme bfv runs the same network under BFV\n"
      "at parameters inside the HE standard's 128-bit bound.");
  const std::string data = default_data_directory();
  options.add_value("scheme", "NAME", "yashe (the paper's scheme) or bfv (secure under RLWE)",
                    "yashe");
  options.add_value("model", "FILE", "integer model", data + "/model.txt");
  options.add_value("data", "DIR",
                    "IDX data set whose test images are classified (and its "
                    "SHA256SUMS)",
                    data + "/mnist");
  add_no_verify_option(options);
  options.add_value("preset", "NAME", "YASHE' parameter preset: default, paper or table-bound",
                    "default");
  add_insecure_ring_degree_option(options);
  options.add_value("images", "N", "how many test images, from the first (default: all)");
  options.add_value("batch", "N", "images per batch (at most n, the slot count)");
  add_threads_option(options);
  options.add_value("seed", "S", "INSECURE: derive all randomness from S, for reproduction only");
  options.add_flag("no-noise", "skip the noise-budget diagnostics (they need the secret key)");
  options.add_value("csv", "FILE",
                    "write every stage of every batch and modulus as CSV (both counted from 1; the "
                    "decryption, across the moduli, has an empty modulus field, as the stages "
                    "that are no layer have an empty layer field)");
  options.add_value("summary-csv", "FILE", "write the summary as one CSV row");
  if (!options.parse(arguments)) return kExitSuccess;

  // Every option is read before any work or output.
  const std::string scheme = options.text("scheme");
  if (scheme != "yashe" && scheme != "bfv") {
    throw UsageError("--scheme must be yashe or bfv, not '" + scheme + "'");
  }
  // given, not != "default": `--scheme bfv --preset default` was ignored in silence, where params
  // and keygen refuse it.
  if (scheme == "bfv" && options.given("preset")) {
    throw UsageError("--preset is for --scheme yashe; BFV has one parameter set");
  }
  require_preset_name(options.text("preset"));
  MnistOptions values;
  values.threads = cli::threads_option(options);
  if (options.has("images")) {
    values.wanted =
        static_cast<size_t>(options.integer("images", 1, std::numeric_limits<int64_t>::max()));
  }
  if (options.has("seed"))
    values.seed = static_cast<uint64_t>(options.integer("seed", 0, INT64_MAX));
  // The CSV outputs must not be an input, a key file or a device.
  refuse_output_over_inputs(options, {"csv", "summary-csv"}, {"model"});
  // Nor a file of the data set (found by a new user's trial: --csv over the test labels, exit 0).
  for (const std::string output : {"csv", "summary-csv"}) {
    if (options.has(output))
      refuse_output_over_data(output, options.text(output), options.text("data"));
    // Nor any other file but an earlier run's CSV (a new user's trial: --csv replaced an
    // encrypted batch, exit 0), as encrypt's --out.
    refuse_to_replace_other_than(
        options, output,
        [](std::istream& existing) {
          std::string head(kCsvPrefixHeader.size(), '\0');
          existing.read(head.data(), static_cast<std::streamsize>(head.size()));
          return head == kCsvPrefixHeader;
        },
        "a stage or summary CSV of mnist", "");
  }

  const Model model = load_model(options.text("model"));
  // --batch is at most n, known once the parameters are.
  const auto read_batch = [&](size_t n) {
    if (options.has("batch"))
      values.batch_size = static_cast<size_t>(options.integer("batch", 1, static_cast<int64_t>(n)));
  };
  if (scheme == "bfv") {
    const BfvParameterChoice choice = select_bfv_parameters(model);
    const bfv::Parameters params = insecure_ring_degree_option(options, choice.base);
    read_batch(params.n);
    return run_mnist_with<bfv::Scheme>(
        options, values, model,
        {choice.name, params, choice.plaintext_moduli, bfv::assess_security(params).one_line()});
  }
  const ParameterChoice choice = preset(options.text("preset"), model);
  const yashe::Parameters params = insecure_ring_degree_option(options, choice.base);
  read_batch(params.n);
  return run_mnist_with<yashe::Scheme>(
      options, values, model,
      {choice.name, params, choice.plaintext_moduli, yashe::assess_security(params).one_line()});
}

}  // namespace cryptonets::cli
