// SIGINT (Ctrl-C), SIGTERM, SIGHUP and SIGPIPE (a pipe it writes to was closed: `| head`) while a
// command writes its outputs (io/interrupts.cpp): one async-signal-safe state machine, shared by
// `cryptonets keygen` (its staging directory), cryptonets-reproduce (the directories it made for
// its outputs) and the known-answer generators tests/kat/generate_yashe_kat and
// generate_bfv_kat (their staging directory, tests/kat/staged_directory.hpp).
//
// While open, a signal runs the command's cleanup (in the handler) and ends the process by the
// signal, as its default action would (a shell reports 128 + the signal: 130, 143, 141). While
// held (the main thread changes what the cleanup reads, or commits its outputs), a signal is only
// recorded, and taken when the guard is opened again or released. Any thread may take the
// signal, so the state is a lock-free atomic; a handler already cleaning up on one thread makes
// the others wait (hold) or return (a second signal). A signal ignored at install (nohup) stays
// ignored.
#pragma once

namespace cryptonets::interrupts {

// What the handler does before the process ends by `signal`: only async-signal-safe calls
// (unlink, rmdir, write: say()) on data prepared beforehand, while held.
using Cleanup = void (*)(int signal);

// Handles SIGINT, SIGTERM, SIGHUP and SIGPIPE from here on, open, with `cleanup`; no recorded
// signal. The actions they had are kept for restore(). Called again, it keeps the first actions.
void install(Cleanup cleanup);

// The main thread takes over what the cleanup reads: from here to open() or restore() a signal
// is only recorded. Waits (for ever: the process ends) while a handler is cleaning up.
void hold();

// Held: the handler runs `cleanup` from the next open() on.
void set_cleanup(Cleanup cleanup);

// The handler acts again; a signal recorded while held is taken now (cleanup, then the end).
void open();

// Held: the actions before install() back, and a signal recorded while held raised again
// (ending the process as it would have when it came).
void restore();

// Writes the NUL-terminated `line` to stderr (async-signal-safe: for cleanups).
void say(const char* line);

}  // namespace cryptonets::interrupts
