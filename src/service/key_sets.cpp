// Registered key sets (key_sets.hpp).
#include "key_sets.hpp"

#include "cryptonets/inference/parameter_selection.hpp"
#include "cryptonets/io/serialize.hpp"
#include "cryptonets/service/durable.hpp"

namespace cryptonets::service {

namespace {

template <class Scheme>
class TypedKeySet final : public KeySet {
 public:
  // The key-set directory's params, evaluation.key and public.key (load_server_keys: a secret
  // key is refused, the files must be of one key set and of this scheme).
  explicit TypedKeySet(const KeyDirectory& dir) {
    encoding::BasicServerKeys<Scheme> keys =
        load_server_keys<Scheme>(dir.parameters, dir.evaluation_keys, dir.public_keys);
    contexts_ = keys.contexts;
    key_ids_ = key_ids_of(keys.evaluation_keys);
    fingerprint_ = parameter_set_fingerprint(contexts_);
    key_set_id_ = cryptonets::key_set_id(key_ids_);
    server_ = std::make_unique<encoding::BasicCrtEncryptionSet<Scheme>>(std::move(keys));
  }
  SchemeId scheme() const override { return scheme_id<Scheme>(); }

  void require_model(const RangeReport& ranges, const CompiledModel& compiled) const override {
    require_plaintext_moduli(ranges, plaintext_moduli_of(contexts_));
    require_noise_budget(*server_, compiled, 0);
  }

  std::unique_ptr<StreamVerifier> verifier(bool keep_first_batch) const override {
    return std::make_unique<StreamVerifier>(ciphertext_file_check<Scheme>(contexts_, key_ids_),
                                            keep_first_batch);
  }

  void infer_file(const std::string& input, const std::string& output,
                  const CompiledModel& compiled, uint64_t model_profile, int threads,
                  std::optional<EncryptedBatch> ready,
                  const std::function<void(uint64_t)>& batch_done) const override {
    inference::BasicInferenceOptions<Scheme> options;
    options.threads = threads;
    require_regular_file(input, "the job's batch");  // a FIFO would block the worker
    // Every step of the scores' writer throws a StoreFailure (storing): the server's disk, not
    // the job's input, so the job is run again (run_job).
    std::optional<BasicCiphertextFileWriter<Scheme>> writer;
    const auto open_writer = [&](const ProtocolHeader& header) {
      if (header.profile_fingerprint != model_profile) {
        throw std::runtime_error(other_profile_refusal("file '" + input + "'",
                                                       header.profile_fingerprint, model_profile,
                                                       ProfileSource::kService));
      }
      storing([&] {
        // Mode 0600, as every other file of the state directory.
        writer.emplace(output, contexts_, key_ids_, header.profile_fingerprint, header.source,
                       header.first_image, header.images, header.batch_size, compiled.output_size,
                       header.file_id,
                       /*owner_only=*/true);
      });
    };
    const auto write = [&](EncryptedBatch scores) {
      storing([&] { writer->write(std::move(scores)); });
    };
    if (ready) {  // verified at upload; the file on disk is the same bytes
      open_writer(read_protocol_header(input));
      write(infer(*server_, compiled, std::move(*ready), options));
      ready.reset();
      storing([&] { writer->commit(); });
      batch_done(0);
      return;
    }
    BasicCiphertextFileReader<Scheme> reader(input, contexts_, key_ids_);
    const ProtocolHeader& header = reader.header();
    open_writer(header);
    for (uint64_t b = 0; b < header.batch_count(); ++b) {
      write(infer(*server_, compiled, reader.next(), options));
      batch_done(b);
    }
    reader.finish();
    storing([&] { writer->commit(); });
  }

 private:
  BasicContextSet<Scheme> contexts_;
  std::unique_ptr<encoding::BasicCrtEncryptionSet<Scheme>> server_;
};

}  // namespace

void require_regular_key_set(const KeyDirectory& dir) {
  require_regular_file(dir.parameters, "the key set's params");
  require_regular_file(dir.evaluation_keys, "the key set's evaluation keys");
  require_regular_file(dir.public_keys, "the key set's public keys");
}

uint64_t check_stored_key_set(const KeyDirectory& dir) {
  require_regular_key_set(dir);
  const uint64_t id = read_protocol_header(dir.parameters).key_set_id;
  for (const std::string& path : {dir.evaluation_keys, dir.public_keys})
    read_protocol_header(path);
  return id;
}

std::shared_ptr<const KeySet> load_key_set(const KeyDirectory& dir) {
  require_regular_key_set(dir);
  if (protocol_file_scheme(dir.parameters) == SchemeId::kBfv) {
    return std::make_shared<TypedKeySet<bfv::Scheme>>(dir);
  }
  return std::make_shared<TypedKeySet<yashe::Scheme>>(dir);
}

std::optional<uint64_t> stored_key_set_id(const std::string& directory) {
  const KeyDirectory dir(directory);
  for (const std::string& path : {dir.parameters, dir.evaluation_keys, dir.public_keys}) {
    try {
      return read_protocol_header(path).key_set_id;
    } catch (const std::runtime_error&) {
      // unreadable header: try the next part
    }
  }
  return std::nullopt;
}

std::string key_set_problem(const std::string& directory, std::string message) {
  std::error_code error;
  if (!fs::is_directory(directory, error)) return "it is no longer stored on this server";
  const KeyDirectory dir(directory);
  for (const auto& [path, part] : {std::pair{dir.parameters, "part 'params'"},
                                   {dir.evaluation_keys, "part 'evaluation'"},
                                   {dir.public_keys, "part 'public'"}})
    message = client_message(message, path, part);
  return message;
}

}  // namespace cryptonets::service
