// cryptonets-train: trains the float CryptoNets network on an IDX data set of 28×28 grey images
// (MNIST or one's own; the number of classes comes from the labels) and writes it as a text model.
//
//   cryptonets-train --data data/mnist --epochs 25 --seed 1 --threads 1 --out data/model-float.txt
//   cryptonets-train --architecture paper --epochs 12 --out data/model-paper9-train.txt
//                    --merged data/model-paper9-float.txt     (the 9-layer training network)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "cli_support.hpp"
#include "cryptonets/io/idx.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/training/float_network.hpp"
#include "cryptonets/training/sequential_network.hpp"
#include "cryptonets/training/trainer.hpp"

using cryptonets::training::class_count;
using cryptonets::training::EpochReport;
using cryptonets::training::FloatNetwork;
using cryptonets::training::LabelledImages;
using cryptonets::training::parameter_count;
using cryptonets::training::require_labels_below;
using cryptonets::training::save_float_network;
using cryptonets::training::train_float_network;
using cryptonets::training::TrainingOptions;
using cryptonets::training::write_float_network;
using namespace cryptonets::training;

namespace {

using namespace cryptonets;
using namespace cryptonets::cli;
namespace fs = std::filesystem;

constexpr const char* kProgram = "cryptonets-train";

struct CommandLine {
  std::string data_directory;
  std::string output;
  bool output_named = false;  // --out given (else its default, which is never replaced)
  bool data_named = false;    // --data given (else its default, relative to the directory)
  size_t train_limit = 0;     // 0: all training images
  bool verify_checksums = true;
  std::string architecture = "cryptonets";  // or "paper": the 9-layer training network
  std::string activation = "square";
  std::string merged_output;  // --merged: the merged 5-layer float model
  std::string fine_tune;      // --fine-tune FILE: start from this sequential model
  std::string approximate;    // --approximate lsq|chebyshev: polynomial activations first
  int degree = 2;
  TrainingOptions training;
};

// The largest --lr (and --final-lr) and --clip taken.
constexpr double kMostStepSize = 10;
constexpr double kMostClip = 1e9;

// "%g" of a default, as --help shows it and as it parses back.
std::string shown(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

// A value in (0, high]: the trainer refuses a zero step size or clip, which OptionParser::real's
// closed range let through (a trial: --lr 0 exited 1 with the trainer's list of every
// constraint). A UsageError naming --`name` otherwise.
double positive_real(const OptionParser& options, const std::string& name, double high) {
  const std::string value = options.text(name);
  char* end = nullptr;
  const double parsed = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !std::isfinite(parsed) || !(parsed > 0) || parsed > high) {
    throw UsageError("--" + name + " expects a number in (0, " + shown(high) + "], got '" + value +
                     "'");
  }
  return parsed;
}

// Parses the options, whose defaults are those of TrainingOptions; nullopt after --help.
std::optional<CommandLine> parse_command_line(std::span<char* const> arguments) {
  const TrainingOptions defaults;
  OptionParser options = OptionParser::for_program(
      "cryptonets-train",
      "Trains the float CryptoNets network on a data set of 28x28 grey images in IDX files and\n"
      "writes it as a text model. DIR holds train-images-idx3-ubyte, train-labels-idx1-ubyte,\n"
      "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each plain or .gz) and, to verify\n"
      "them, SHA256SUMS; the labels are the class indices 0..K-1 (K = largest label + 1).");
  options.add_value("data", "DIR", "the data set's IDX files (and SHA256SUMS)", "data/mnist");
  options.add_value("out", "FILE",
                    "where to write the float model; an existing file is replaced only when "
                    "named here",
                    "data/model-float.txt");
  options.add_value("epochs", "N",
                    "passes over the training images (0 only with --approximate: the drop-in)",
                    std::to_string(defaults.epochs));
  options.add_value("seed", "S", "seeds initialisation, shuffling and augmentation",
                    std::to_string(defaults.seed));
  options.add_value("threads", "T", "OpenMP threads; the result does not depend on it",
                    std::to_string(defaults.threads));
  options.add_value("batch", "N",
                    "mini-batch size; one above the number of training images is taken as\n"
                    "that number (one batch of all of them per step), with a note",
                    std::to_string(defaults.batch_size));
  options.add_value("lr", "X", "Adam step size after warm-up, in (0, " + shown(kMostStepSize) + "]",
                    shown(defaults.learning_rate));
  options.add_value(
      "final-lr", "X",
      "step size at the end of the cosine decay, in [0, " + shown(kMostStepSize) + "]",
      shown(defaults.final_learning_rate));
  options.add_value("warmup", "N", "warm-up steps", std::to_string(defaults.warmup_steps));
  options.add_value("clip", "X", "global gradient-norm clip, in (0, " + shown(kMostClip) + "]",
                    shown(defaults.gradient_clip_norm));
  options.add_value("weight-decay", "X", "decoupled weight decay (multiplied by the step size)",
                    shown(defaults.weight_decay));
  options.add_value("shift", "N", "random shift augmentation, ±N pixels",
                    std::to_string(defaults.max_shift));
  options.add_value("conv-maps", "N", "convolution maps", std::to_string(defaults.conv_maps));
  options.add_value("hidden", "N", "hidden units", std::to_string(defaults.hidden));
  options.add_value("train-limit", "N", "train on the first N images only (0: all)", "0");
  options.add_value("architecture", "A",
                    "cryptonets (the merged 5-layer network, trained directly) or paper (the\n"
                    "9-layer training network: conv, square, sum pool, conv, sum pool, dense,\n"
                    "square, dense); other than cryptonets/square writes a sequential model;\n"
                    "not with --fine-tune (the model keeps its own)",
                    "cryptonets");
  options.add_value("activation", "F",
                    "square, relu or sigmoid; not with --fine-tune (the model keeps its own)",
                    "square");
  options.add_value("merged", "FILE",
                    "also write the network with its linear runs merged, as a float model "
                    "(square activations only)",
                    "");
  options.add_value("fine-tune", "FILE",
                    "continue training this sequential model (its activations) instead of a "
                    "fresh one",
                    "");
  options.add_value("approximate", "FIT",
                    "with --fine-tune: first replace each activation by its polynomial fit "
                    "(lsq: least squares, chebyshev: truncated Chebyshev series) on the range "
                    "its inputs take on the first 10000 training images, or (lsq-observed) by "
                    "least squares over those inputs themselves; --epochs 0: drop-in",
                    "");
  options.add_value("degree", "D", "degree of the --approximate polynomials", "2");
  add_no_verify_option(options);
  if (!options.parse(arguments)) return std::nullopt;

  CommandLine line;
  line.data_directory = options.text("data");
  line.data_named = options.given("data");
  line.output = options.text("out");
  line.output_named = options.given("out");
  // The default is relative to the current directory: a bare run from the repository would
  // replace the shipped float model after the whole training.
  const std::string refused =
      options.given("out") ? "" : existing_default_outputs({{"--out", line.output}});
  if (!refused.empty()) {
    throw UsageError("refusing to replace " + refused +
                     ": a default output never replaces an existing file (run from the "
                     "repository, it would be shipped data); name the output with --out FILE (a "
                     "file named there is replaced)");
  }
  require_output_path("out", line.output, line.output_named);
  line.train_limit = static_cast<size_t>(options.integer("train-limit", 0, INT64_MAX));
  line.verify_checksums = verify_option(options);
  line.architecture = options.text("architecture");
  if (line.architecture != "cryptonets" && line.architecture != "paper") {
    throw UsageError("--architecture: expected cryptonets or paper, got '" + line.architecture +
                     "'");
  }
  line.activation = options.text("activation");
  line.merged_output = options.text("merged");
  if (!line.merged_output.empty()) require_output_path("merged", line.merged_output);
  refuse_output_over_data("out", line.output, line.data_directory);
  refuse_to_replace_project_file("--out '" + line.output + "'", line.output, "a float model");
  if (!line.merged_output.empty()) {
    refuse_output_over_data("merged", line.merged_output, line.data_directory);
    refuse_to_replace_project_file("--merged '" + line.merged_output + "'", line.merged_output,
                                   "a float model");
    if (names_same_file(line.output, line.merged_output)) {
      throw UsageError("--merged '" + printable_text(line.merged_output) +
                       "' is the same file as --out '" + printable_text(line.output) +
                       "': writing it would destroy the other; choose another path");
    }
  }
  line.fine_tune = options.text("fine-tune");
  if (!line.fine_tune.empty()) {
    require_regular_input_option("fine-tune", line.fine_tune);
    // The default network's float model cannot be continued (a trial gave data/model-float.txt:
    // "found 'cryptonets-float-model', expected 'cryptonets-sequential-model'", exit 1).
    const std::string format = text_file_format(line.fine_tune);
    if (format == "cryptonets-float-model") {
      throw UsageError("--fine-tune '" + printable_text(line.fine_tune) +
                       "' holds a float model of the default network, which --fine-tune cannot "
                       "continue: it takes a sequential model (cryptonets-train --architecture "
                       "paper, or --activation relu or sigmoid, writes one)");
    }
    // The integer model too (data/model.txt: it read the data, then failed, exit 1).
    if (format == "cryptonets-model") {
      throw UsageError("--fine-tune '" + printable_text(line.fine_tune) +
                       "' holds an integer model of cryptonets-quantise, which --fine-tune cannot "
                       "continue: it takes a sequential model (cryptonets-train --architecture "
                       "paper, or --activation relu or sigmoid, writes one)");
    }
  }
  line.approximate = options.text("approximate");
  line.degree = static_cast<int>(options.integer("degree", 1, 6));
  if (!line.approximate.empty() && line.approximate != "lsq" && line.approximate != "chebyshev" &&
      line.approximate != "lsq-observed") {
    throw UsageError("--approximate: expected lsq, chebyshev or lsq-observed, got '" +
                     line.approximate + "'");
  }
  if (!line.merged_output.empty() && line.architecture != "paper" && line.fine_tune.empty()) {
    throw UsageError("--merged applies to --architecture paper (or a --fine-tune model)");
  }
  if (!line.approximate.empty() && line.fine_tune.empty()) {
    throw UsageError("--approximate needs --fine-tune FILE (the trained network to approximate)");
  }
  // The merged network is written as a float model, whose activations are squares: other ones
  // trained first and failed at the end ("to_float_network: FloatNetwork's activations are
  // squares, found relu and relu", exit 1; a trial).
  if (!line.merged_output.empty() && line.fine_tune.empty() && line.activation != "square") {
    throw UsageError(
        "--merged writes a float model, whose activations are squares: not with "
        "--activation " +
        line.activation);
  }
  if (!line.merged_output.empty() && !line.approximate.empty()) {
    throw UsageError(
        "--merged writes a float model, whose activations are squares: not with "
        "--approximate (cryptonets-quantise --sequential takes the fine-tuned model "
        "with its polynomials)");
  }
  // A --fine-tune model keeps its own shape: --conv-maps and --hidden would be ignored.
  for (const char* shape : {"conv-maps", "hidden"}) {
    if (options.given(shape) && !line.fine_tune.empty()) {
      throw UsageError(
          "--" + std::string(shape) +
          " sets the shape of a new network; --fine-tune FILE keeps the shape of FILE");
    }
  }
  // And its own layers and activations, which these two would not change (they were ignored
  // without a word). Refused even where the value matches FILE's: the file, not the command
  // line, says what the network is.
  for (const char* kind : {"architecture", "activation"}) {
    if (options.given(kind) && !line.fine_tune.empty()) {
      throw UsageError("--" + std::string(kind) +
                       " chooses a new network; --fine-tune FILE keeps the " + kind +
                       " of FILE (the fine-tuned model's own is used): leave --" + kind + " out");
    }
  }
  // --degree is the degree of the --approximate fits: without them it would be ignored.
  if (options.given("degree") && line.approximate.empty())
    throw UsageError("--degree applies to --approximate (the degree of its polynomials)");
  TrainingOptions& t = line.training;
  constexpr int64_t kMostSteps = std::numeric_limits<int>::max();
  t.epochs = static_cast<int>(options.integer("epochs", 0, 100000));
  // No pass writes the starting network: the random one (a trial: exit 0 and a model at chance
  // accuracy), or --fine-tune's unchanged. Only the drop-in approximation is a result.
  if (t.epochs == 0 && line.approximate.empty()) {
    throw UsageError(
        "--epochs 0 trains nothing and would write the untrained network: give at least 1 (0 "
        "is for --fine-tune FILE --approximate FIT, which writes the drop-in approximation)");
  }
  t.seed = static_cast<uint64_t>(options.integer("seed", 0, INT64_MAX));
  t.threads = static_cast<int>(options.integer("threads", 1, 1024));
  t.batch_size = static_cast<int>(options.integer("batch", 1, 1 << 20));
  t.learning_rate = static_cast<float>(positive_real(options, "lr", kMostStepSize));
  t.final_learning_rate = static_cast<float>(options.real("final-lr", 0, kMostStepSize));
  t.warmup_steps = static_cast<int>(options.integer("warmup", 0, kMostSteps));
  t.gradient_clip_norm = static_cast<float>(positive_real(options, "clip", kMostClip));
  t.weight_decay = static_cast<float>(options.real("weight-decay", 0, 1000));
  t.max_shift = static_cast<int>(options.integer("shift", 0, FloatNetwork::kImageSide - 1));
  t.conv_maps = static_cast<int>(options.integer("conv-maps", 1, 1024));
  t.hidden = static_cast<int>(options.integer("hidden", 1, 1 << 20));
  return line;
}

LabelledImages view(const MnistSet& set, size_t limit) {
  const size_t count = limit > 0 ? std::min(limit, set.images.count) : set.images.count;
  return {std::span(set.images.pixels).first(count * kMnistImagePixels),
          std::span(set.labels.labels).first(count)};
}

// Writes the model with `write` to `output`'s new file (named later: publish_together).
// Rendered in memory first and written by ToolOutput::write, whose error names the output and
// the reason (a std::ofstream said only "cannot write", under a file-size limit too).
template <class Write>
void write_output(ToolOutput& output, Write&& write) {
  std::ostringstream text;
  write(text);
  output.write(text.str());
}

int run(std::span<char* const> arguments) {
  const std::optional<CommandLine> parsed = parse_command_line(arguments);
  if (!parsed) return kExitSuccess;
  const CommandLine& line = *parsed;
  // Made before the data are read and the training runs: a directory that cannot take the
  // outputs stops the run now, and their unnamed files leave nothing if the run is killed (a
  // named output's old file stays whole until publish).
  ToolOutput output("--out", line.output, line.output_named);
  std::unique_ptr<ToolOutput> merged_output;
  if (!line.merged_output.empty())
    merged_output = std::make_unique<ToolOutput>("--merged", line.merged_output, true);
  // The --fine-tune model is read, and checked against --merged, before the data: a model of
  // other activations than squares with --merged was refused only after the data were read and
  // "training on ..." printed (a review).
  std::optional<SequentialNetwork> fine_tuned;
  if (!line.fine_tune.empty()) {
    fine_tuned = load_sequential_model(line.fine_tune);
    if (!line.merged_output.empty()) {
      for (const SequentialLayer& layer : fine_tuned->layers) {
        if (layer.kind == LayerKind::kActivation &&
            layer.activation.kind != ActivationKind::kSquare)
          throw UsageError("--merged writes a float model, whose activations are squares: '" +
                           printable_text(line.fine_tune) + "' has " + layer.activation.name() +
                           " activations");
      }
    }
  }
  const MnistSet train = with_default_hint("--data", line.data_directory, line.data_named, [&] {
    return load_data_split(line.data_directory, MnistSplit::kTrain, line.verify_checksums);
  });
  const MnistSet test =
      load_data_split(line.data_directory, MnistSplit::kTest, line.verify_checksums);
  const LabelledImages train_view = view(train, line.train_limit);
  const int classes =
      class_count(train_view.labels,
                  "'" + split_labels_file(line.data_directory, MnistSplit::kTrain).string() + "'");
  require_labels_below(test.labels.labels, classes,
                       "'" + split_labels_file(line.data_directory, MnistSplit::kTest).string() +
                           "' (the training labels have " + std::to_string(classes) + " classes)");
  TrainingOptions t = line.training;
  // A batch beyond the training set is the whole set each step, as the trainers take it; their
  // buffers followed --batch (1048576 took 820 MB for 100 images).
  if (static_cast<size_t>(t.batch_size) > train_view.size()) {
    std::fprintf(stderr,
                 "%s: note: --batch %d is more than the %zu training images: batches of %zu (all "
                 "of them, each step)\n",
                 kProgram, t.batch_size, train_view.size(), train_view.size());
    t.batch_size = static_cast<int>(train_view.size());
  }
  std::printf(
      "training on %zu images, testing on %zu, %d classes; epochs %d, batch %d, lr %g, "
      "seed %llu, threads %d\n",
      train_view.size(), test.images.count, classes, t.epochs, t.batch_size,
      double{t.learning_rate}, static_cast<unsigned long long>(t.seed), t.threads);
  std::fflush(stdout);
  double total_seconds = 0.0;
  const auto report = [&](const EpochReport& r) {
    total_seconds += r.seconds;
    std::printf("epoch %3d  loss %.4f  train %.2f%%  test %.2f%%  %.1f s\n", r.epoch, r.loss,
                100.0 * r.train_accuracy, 100.0 * r.test_accuracy, r.seconds);
    std::fflush(stdout);
  };
  if (line.architecture != "cryptonets" || line.activation != "square" || !line.fine_tune.empty()) {
    const Activation activation = parse_activation(line.activation);
    SequentialNetwork network =
        fine_tuned ? std::move(*fine_tuned)
        : line.architecture == "paper"
            ? make_paper_training_network(classes, t.conv_maps, 50, t.hidden, activation)
            : make_five_layer_network(classes, t.conv_maps, t.hidden, activation);
    if (!line.approximate.empty()) {
      const LabelledImages fit_images = view(train, 10000);
      const auto ranges = activation_input_ranges(network, fit_images);
      const std::vector<Activation> fits =
          fit_activations(network, fit_images, line.approximate, line.degree);
      size_t a = 0;
      for (SequentialLayer& layer : network.layers) {
        if (layer.kind != LayerKind::kActivation) continue;
        const auto [low, high] = ranges[a];
        const Activation original = layer.activation;
        layer.activation = fits[a];
        ++a;
        std::printf("activation %zu: %s on [%.4g, %.4g] -> %s\n", a, original.name().c_str(), low,
                    high, layer.activation.name().c_str());
      }
      std::printf("drop-in test accuracy: %.2f%%\n",
                  100.0 * accuracy(network, view(test, 0), t.threads));
      std::fflush(stdout);
    }
    train_sequential_network(network, train_view, view(test, 0), t, line.fine_tune.empty(), report);
    write_output(output, [&](std::ostream& out) { write_sequential_network(network, out); });
    std::optional<SequentialNetwork> merged;
    if (!line.merged_output.empty()) {
      merged = merge_linear_runs(network);
      // The one run merge_linear_runs can leave in the 5-layer shape is the hidden dense layer's:
      // the layers it took in place of one (none for a 5-layer network).
      const size_t merged_layers = merged->layers.size() < network.layers.size()
                                       ? network.layers.size() - merged->layers.size() + 1
                                       : 0;
      write_output(*merged_output, [&](std::ostream& out) {
        write_float_network(to_float_network(*merged), out, merged_layers);
      });
    }
    // Both or neither: a --merged that fails takes --out's new file with it.
    std::vector<ToolOutput*> outputs{&output};
    if (merged_output) outputs.push_back(merged_output.get());
    publish_together(kProgram, outputs);
    std::printf("wrote %s after %.1f s of training\n", printable_text(line.output).c_str(),
                total_seconds);
    if (merged) {
      std::printf("wrote %s (linear runs merged; test accuracy %.2f%% before, %.2f%% after)\n",
                  printable_text(line.merged_output).c_str(),
                  100.0 * accuracy(network, view(test, 0), t.threads),
                  100.0 * accuracy(*merged, view(test, 0), t.threads));
    }
    return kExitSuccess;
  }
  const FloatNetwork network =
      train_float_network(train_view, view(test, 0), t, [&](const EpochReport& r) {
        total_seconds += r.seconds;
        std::printf("epoch %3d  loss %.4f  train %.2f%%  test %.2f%%  %.1f s\n", r.epoch, r.loss,
                    100.0 * r.train_accuracy, 100.0 * r.test_accuracy, r.seconds);
        std::fflush(stdout);
      });
  write_output(output, [&](std::ostream& out) { write_float_network(network, out); });
  output.publish(kProgram);
  std::printf("wrote %s (%zu parameters) after %.1f s of training\n",
              printable_text(line.output).c_str(), parameter_count(network), total_seconds);
  return kExitSuccess;
}

}  // namespace

int main(int argc, char** argv) {
  return run_standalone(kProgram, run, argc, argv);
}
