// The signal state machine of io/interrupts.hpp. Only async-signal-safe calls in the handler:
// the cleanup's, write, sigaction, raise.
#include "cryptonets/io/interrupts.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iterator>

namespace cryptonets::interrupts {

namespace {

// SIGPIPE too: a pipe the command writes to (its stdout, its stderr: `| head`) closed early
// ended it by the default action, with the partial outputs left behind (a trial).
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

// kIdle: not installed, or restored; a signal (by an action we no longer own) is recorded.
// kOpen: the handler runs the cleanup and ends the process. kCleaning: a handler is doing so.
// kHolding: the main thread changes what the cleanup reads: a signal is recorded in pending.
enum State : int { kIdle, kOpen, kCleaning, kHolding };
std::atomic<int> state{kIdle};
static_assert(std::atomic<int>::is_always_lock_free);
std::atomic<int> pending{0};
std::atomic<Cleanup> cleanup{nullptr};
static_assert(std::atomic<Cleanup>::is_always_lock_free);
struct sigaction previous[std::size(kSignals)];
bool installed[std::size(kSignals)];

// Ends the process by `signal` (its default action) once the handler returns.
void end_by(int signal) {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  ::sigaction(signal, &default_action, nullptr);
  ::raise(signal);
}

extern "C" void on_signal(int signal) {
  int current = state.load();
  for (;;) {
    if (current == kHolding || current == kIdle) {
      pending.store(signal);
      return;
    }
    if (current == kCleaning) return;  // another thread ends the process
    if (state.compare_exchange_strong(current, kCleaning)) break;
  }
  if (const Cleanup run = cleanup.load(); run != nullptr) run(signal);
  end_by(signal);
}

}  // namespace

void install(Cleanup on_interrupt) {
  pending.store(0);
  cleanup.store(on_interrupt);
  state.store(kOpen);
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    struct sigaction before {};
    if (::sigaction(kSignals[i], nullptr, &before) != 0 || before.sa_handler == SIG_IGN) continue;
    if (before.sa_handler == on_signal) continue;  // installed already: keep the first actions
    installed[i] = ::sigaction(kSignals[i], &action, nullptr) == 0;
    if (installed[i]) previous[i] = before;
  }
}

void hold() {
  int current = state.load();
  while (current != kHolding) {
    if (current == kCleaning) {
      for (;;)
        ::pause();
    }
    if (state.compare_exchange_weak(current, kHolding)) break;
  }
}

void set_cleanup(Cleanup on_interrupt) {
  cleanup.store(on_interrupt);
}

void open() {
  state.store(kOpen);
  if (const int signal = pending.exchange(0); signal != 0) on_signal(signal);
}

void restore() {
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    if (installed[i]) ::sigaction(kSignals[i], &previous[i], nullptr);
    installed[i] = false;
  }
  state.store(kIdle);
  if (const int signal = pending.exchange(0); signal != 0) ::raise(signal);
}

void say(const char* line) {
  size_t length = 0;
  while (line[length] != '\0')
    ++length;
  [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, line, length);
}

}  // namespace cryptonets::interrupts
