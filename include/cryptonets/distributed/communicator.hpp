// The MPI plumbing of distributed inference (Open MPI, MPI 3.1): byte messages between the ranks
// of MPI_COMM_WORLD or of a part of it (split), every wait watched by one watchdog.
//
// Waits poll (MPI_Test, then a short sleep) instead of blocking in MPI: Open MPI's blocking waits
// spin on a core, and on an oversubscribed machine a spinning rank takes the core from the ranks
// that compute. Only the thread that constructed the Communicator calls MPI (MPI_THREAD_FUNNELED);
// the OpenMP threads of the layer kernels never do.
//
// Failure: a rank that dies is seen by the launcher (mpirun ends the whole job). A rank that
// stalls leaves the others waiting: when one wait (MPI_Init included) lasts longer than the
// watchdog timeout, the waiting rank prints which wait, on which rank, and ends its process at
// once with kWatchdogExit; mpirun then ends the others. No output file can be left: rank 0 writes
// through io::AtomicFileWriter, whose file appears only on commit.
#pragma once

#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace cryptonets::distributed {

inline constexpr int kWatchdogExit = 3;
// What the watchdog's message gives as the cause of a wait that lasted too long, unless the wait
// names another (one for rank 0, which reads and checks the input files while the others wait).
inline constexpr const char* kStallCause = "another rank died or stalled";

// Whether this process was started by an MPI launcher (mpirun / mpiexec set OMPI_COMM_WORLD_SIZE,
// PMIX_RANK or PMI_SIZE). Does not initialise MPI.
bool launched_by_mpi();

// Ends the process (std::_Exit(kWatchdogExit)) with a message on stderr when one wait lasts
// longer than the timeout. Runs its own thread; begin/end may be called from one thread only.
class Watchdog {
 public:
  explicit Watchdog(double timeout_seconds);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void set_timeout(double seconds);  // > 0
  void set_rank(int rank, int ranks);
  // A wait for `what` (a static string: "layer 3 partial sums from rank 2") starts / ends; `cause`
  // is what the message says of why it lasted.
  void begin(std::string what, std::string cause = kStallCause);
  void end();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  double timeout_seconds_;
  int rank_ = -1, ranks_ = 0;
  bool waiting_ = false;
  std::string what_;
  std::string cause_;
  std::chrono::steady_clock::time_point since_;
  std::thread thread_;
};

class Communicator {
 public:
  using Bytes = std::vector<uint8_t>;

  // MPI_COMM_WORLD: MPI_Init_thread (MPI_THREAD_FUNNELED) under the watchdog. Throws
  // std::runtime_error if MPI cannot be initialised or gives less than MPI_THREAD_FUNNELED.
  explicit Communicator(double watchdog_seconds);
  ~Communicator();  // the world: MPI_Finalize; a part: MPI_Comm_free
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  // The ranks of this communicator with the same `color`, ordered as here (MPI_Comm_split; every
  // rank must call it). The part shares this communicator's watchdog and must not outlive it.
  std::unique_ptr<Communicator> split(int color, const std::string& what);

  int rank() const { return rank_; }
  int size() const { return size_; }
  void set_watchdog(double seconds) { watchdog_->set_timeout(seconds); }

  // `bytes` of rank `root` to every rank (any size; sent in pieces of at most 1 GiB).
  // `cause`: what the watchdog's message says of a wait that lasts (Watchdog::begin), on the
  // ranks other than the root.
  void broadcast(Bytes& bytes, int root, const std::string& what,
                 const std::string& cause = kStallCause);
  // One round of point-to-point messages: sends[d] goes to rank d for every d != rank() with
  // send_to[d]; returns received[s], the message of every rank s != rank() with receive_from[s]
  // (empty elsewhere). Every rank of a round must call it in the same order.
  std::vector<Bytes> exchange(const std::vector<std::span<const uint8_t>>& sends,
                              const std::vector<char>& send_to,
                              const std::vector<char>& receive_from, const std::string& what,
                              const std::string& cause = kStallCause);
  // Every rank's `mine`, in rank order, on every rank (an exchange with everyone).
  std::vector<Bytes> all_gather(const Bytes& mine, const std::string& what);

  // Payload bytes this rank has put on the wire so far (a broadcast counts its size once per
  // receiving rank on the root, whatever tree MPI uses).
  uint64_t bytes_sent() const { return bytes_sent_; }

  // Prints "cryptonets infer: error: rank R of K: MESSAGE; ending the job, no output written"
  // and ends every rank (MPI_Abort).
  [[noreturn]] void abort(const std::string& message);

 private:
  Communicator(Watchdog* watchdog, MPI_Comm comm);
  int next_tag();

  std::unique_ptr<Watchdog> own_watchdog_;  // the world's only
  Watchdog* watchdog_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  bool world_ = false;
  int rank_ = 0;
  int size_ = 1;
  int round_ = 0;
  uint64_t bytes_sent_ = 0;
};

}  // namespace cryptonets::distributed
