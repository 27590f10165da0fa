#include "cryptonets/distributed/communicator.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace cryptonets::distributed {

namespace {

using Clock = std::chrono::steady_clock;

// MPI counts are ints: messages go in pieces of at most 1 GiB.
constexpr uint64_t kPiece = uint64_t{1} << 30;

int piece_count(uint64_t size) {
  return static_cast<int>((size + kPiece - 1) / kPiece);
}

int piece_size(uint64_t size, int piece) {
  return static_cast<int>(std::min(kPiece, size - static_cast<uint64_t>(piece) * kPiece));
}

void check(int code, const char* call) {
  if (code != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw std::runtime_error(std::string(call) + " failed: " + std::string(text, length));
  }
}

// Polls until every request has completed: MPI_Testall, then a sleep that grows from 50 µs to
// 2 ms while nothing completes (a waiting rank leaves the cores to the ranks that compute).
void wait_all(std::vector<MPI_Request>& requests) {
  auto pause = std::chrono::microseconds(50);
  for (;;) {
    int done = 0;
    check(
        MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE),
        "MPI_Testall");
    if (done) return;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(2000));
  }
}

}  // namespace

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

// ---- Watchdog.

Watchdog::Watchdog(double timeout_seconds) : timeout_seconds_(timeout_seconds) {
  set_timeout(timeout_seconds);
  thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Watchdog::set_timeout(double seconds) {
  if (!(seconds > 0)) throw std::invalid_argument("watchdog: the timeout must be > 0 s");
  std::lock_guard lock(mutex_);
  timeout_seconds_ = seconds;
}

void Watchdog::set_rank(int rank, int ranks) {
  std::lock_guard lock(mutex_);
  rank_ = rank;
  ranks_ = ranks;
}

void Watchdog::begin(std::string what, std::string cause) {
  std::lock_guard lock(mutex_);
  waiting_ = true;
  what_ = std::move(what);
  cause_ = std::move(cause);
  since_ = Clock::now();
}

void Watchdog::end() {
  std::lock_guard lock(mutex_);
  waiting_ = false;
}

void Watchdog::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, std::chrono::milliseconds(100));
    if (stop_ || !waiting_) continue;
    const double waited = std::chrono::duration<double>(Clock::now() - since_).count();
    if (waited <= timeout_seconds_) continue;
    const std::string who = rank_ < 0
                                ? std::string("a rank")
                                : "rank " + std::to_string(rank_) + " of " + std::to_string(ranks_);
    std::fprintf(stderr,
                 "cryptonets infer: error: %s waited %.0f s for %s (watchdog --watchdog %g s): "
                 "%s; ending the job, no output written\n",
                 who.c_str(), waited, what_.c_str(), timeout_seconds_, cause_.c_str());
    std::fflush(stderr);
    std::_Exit(kWatchdogExit);  // the output file exists only after commit: nothing is left
  }
}

// ---- Communicator.

Communicator::Communicator(double watchdog_seconds)
    : own_watchdog_(std::make_unique<Watchdog>(watchdog_seconds)),
      watchdog_(own_watchdog_.get()),
      comm_(MPI_COMM_WORLD),
      world_(true) {
  watchdog_->begin("MPI_Init (every rank must start)");
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  watchdog_->end();
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    throw std::runtime_error("MPI gives less than MPI_THREAD_FUNNELED");
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  watchdog_->set_rank(rank_, size_);
}

Communicator::Communicator(Watchdog* watchdog, MPI_Comm comm) : watchdog_(watchdog), comm_(comm) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

Communicator::~Communicator() {
  if (!world_) {
    MPI_Comm_free(&comm_);
    return;
  }
  watchdog_->begin("MPI_Finalize (every rank must finish)");
  MPI_Finalize();
  watchdog_->end();
}

std::unique_ptr<Communicator> Communicator::split(int color, const std::string& what) {
  watchdog_->begin(what);
  MPI_Comm part = MPI_COMM_NULL;
  check(MPI_Comm_split(comm_, color, rank_, &part), "MPI_Comm_split");
  watchdog_->end();
  MPI_Comm_set_errhandler(part, MPI_ERRORS_RETURN);
  return std::unique_ptr<Communicator>(new Communicator(watchdog_, part));
}

int Communicator::next_tag() {
  round_ = (round_ + 1) % 30000;  // MPI guarantees tags up to 32767
  return round_;
}

void Communicator::broadcast(Bytes& bytes, int root, const std::string& what,
                             const std::string& cause) {
  // The root waits for the others to take it: `cause` is of the others' wait for the root.
  watchdog_->begin(what, rank_ == root ? std::string(kStallCause) : cause);
  uint64_t size = bytes.size();
  std::vector<MPI_Request> request(1);
  check(MPI_Ibcast(&size, 1, MPI_UINT64_T, root, comm_, &request[0]), "MPI_Ibcast");
  wait_all(request);
  if (rank_ != root) bytes.assign(size, 0);
  for (int p = 0; p < piece_count(size); ++p) {
    check(MPI_Ibcast(bytes.data() + static_cast<uint64_t>(p) * kPiece, piece_size(size, p),
                     MPI_BYTE, root, comm_, &request[0]),
          "MPI_Ibcast");
    wait_all(request);
  }
  if (rank_ == root) bytes_sent_ += size * static_cast<uint64_t>(size_ - 1);
  watchdog_->end();
}

std::vector<Communicator::Bytes> Communicator::exchange(
    const std::vector<std::span<const uint8_t>>& sends, const std::vector<char>& send_to,
    const std::vector<char>& receive_from, const std::string& what, const std::string& cause) {
  const size_t ranks = static_cast<size_t>(size_);
  if (sends.size() != ranks || send_to.size() != ranks || receive_from.size() != ranks) {
    throw std::invalid_argument("exchange: one entry per rank expected");
  }
  const int tag = next_tag();
  watchdog_->begin(what, cause);
  // Sizes first, so that each receiver can post its pieces.
  std::vector<uint64_t> send_sizes(ranks), receive_sizes(ranks);
  std::vector<MPI_Request> requests;
  for (size_t s = 0; s < ranks; ++s) {
    if (static_cast<int>(s) == rank_ || !receive_from[s]) continue;
    requests.emplace_back();
    check(MPI_Irecv(&receive_sizes[s], 1, MPI_UINT64_T, static_cast<int>(s), tag, comm_,
                    &requests.back()),
          "MPI_Irecv");
  }
  for (size_t d = 0; d < ranks; ++d) {
    if (static_cast<int>(d) == rank_ || !send_to[d]) continue;
    send_sizes[d] = sends[d].size();
    requests.emplace_back();
    check(MPI_Isend(&send_sizes[d], 1, MPI_UINT64_T, static_cast<int>(d), tag, comm_,
                    &requests.back()),
          "MPI_Isend");
  }
  wait_all(requests);
  requests.clear();
  std::vector<Bytes> received(ranks);
  for (size_t s = 0; s < ranks; ++s) {
    if (static_cast<int>(s) == rank_ || !receive_from[s]) continue;
    received[s].assign(receive_sizes[s], 0);
    for (int p = 0; p < piece_count(receive_sizes[s]); ++p) {
      requests.emplace_back();
      check(MPI_Irecv(received[s].data() + static_cast<uint64_t>(p) * kPiece,
                      piece_size(receive_sizes[s], p), MPI_BYTE, static_cast<int>(s), tag, comm_,
                      &requests.back()),
            "MPI_Irecv");
    }
  }
  for (size_t d = 0; d < ranks; ++d) {
    if (static_cast<int>(d) == rank_ || !send_to[d]) continue;
    for (int p = 0; p < piece_count(send_sizes[d]); ++p) {
      requests.emplace_back();
      // MPI_Isend takes a non-const buffer in old MPI headers; it does not write to it.
      check(MPI_Isend(const_cast<uint8_t*>(sends[d].data()) + static_cast<uint64_t>(p) * kPiece,
                      piece_size(send_sizes[d], p), MPI_BYTE, static_cast<int>(d), tag, comm_,
                      &requests.back()),
            "MPI_Isend");
    }
    bytes_sent_ += send_sizes[d];
  }
  wait_all(requests);
  watchdog_->end();
  return received;
}

std::vector<Communicator::Bytes> Communicator::all_gather(const Bytes& mine,
                                                          const std::string& what) {
  const size_t ranks = static_cast<size_t>(size_);
  const std::vector<std::span<const uint8_t>> sends(ranks, std::span<const uint8_t>(mine));
  const std::vector<char> everyone(ranks, 1);
  std::vector<Bytes> all = exchange(sends, everyone, everyone, what);
  all[static_cast<size_t>(rank_)] = mine;
  return all;
}

void Communicator::abort(const std::string& message) {
  std::fprintf(stderr,
               "cryptonets infer: error: rank %d of %d: %s; ending the job, no output written\n",
               rank_, size_, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; in case it does
}

}  // namespace cryptonets::distributed
