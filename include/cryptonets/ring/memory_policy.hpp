// Process-wide allocator policy for programs that handle whole batches of ciphertexts.
#pragma once

#include <cstddef>
#include <new>

namespace cryptonets {

// Makes glibc's malloc keep freed memory for the process's next polynomials instead of handing
// it back to the operating system, which would page-fault it in again (a fault per 4 KiB page;
// on a virtual machine each can cost several microseconds): one arena for all threads (glibc
// unmaps a per-thread arena's 64 MiB heap as soon as it is empty, whatever the trim threshold),
// no trimming below 2 GiB of free memory at the top of the heap, and no separate mapping for
// blocks below 32 MiB (a polynomial is at most a few MiB). The resident size then stays at the
// peak of the largest batch.
//
// It also backs the heap with transparent huge pages (2 MiB) where the kernel offers them on
// request (/sys/kernel/mm/transparent_hugepage/enabled = madvise or always): the heap grows in
// 64 MiB steps, and each large polynomial block allocated after a step marks the new part with
// madvise(MADV_HUGEPAGE) (advise_huge_pages_after_heap_growth below) before its pages are first
// touched. A batch's 1.2 GB then costs about 600 page faults instead of 300,000, and the kernels
// miss the TLB less often.
//
// Call it once, at the start of main, before any thread starts; it does nothing where the C
// library is not glibc. Returns true if every setting was accepted (the huge-page advice is
// best effort: a kernel without it leaves 4 KiB pages).
//
// Measured (bench/results/threads.md, one full batch at the default parameters): the
// convolution of the first plaintext modulus, 2 threads, second batch of a process, took 0.49 s
// without the reuse settings and 0.16 s with them (page faults 425k -> 299k). Huge pages, same
// machine, 1 thread, CPU seconds at load 5: a first batch's layers 1-5 5.52 -> 4.22 s and
// 295,030 -> 1,600 page faults; a second batch's layers 1-5 3.87 / 3.84 -> 3.59 / 3.64 s.
bool keep_freed_memory_for_reuse();

// Blocks of at least this many bytes are "large" for the huge-page advice.
inline constexpr size_t kHugePageAdviceMinimumBytes = size_t{256} << 10;

// The pool of freed polynomial blocks. Once keep_freed_memory_for_reuse() has run (glibc, no
// AddressSanitizer), CacheLineAllocator (poly.hpp) keeps each freed block of
// kHugePageAdviceMinimumBytes to kPooledBlockMaximumBytes bytes in a list for its exact size and
// hands it out again for the next request of that size, before asking malloc. Why: a batch frees
// and allocates thousands of ciphertexts of one size, and malloc, splitting and merging its free
// chunks, ends a process's second batch with a larger peak than its first; the heap then grows
// into pages never touched, whose faults (a 2 MiB page cleared by the kernel inside malloc, under
// its lock) serialised the threads allocating the first convolution's 845 outputs (measured:
// 24-32 ms of a 0.12 s layer on 2 threads; bench/results/simd.md). With the pool, a later batch
// reuses the earlier batch's blocks, already touched, size for size. The same design as SEAL's
// memory pools; blocks are never returned to malloc, except a whole size's blocks when a ninth
// size needs the place of the least recently used one (programs that try several parameter sets).
// The resident size stays at the peak of the largest batch, as with the settings above.
inline constexpr size_t kPooledBlockMaximumBytes = size_t{8} << 20;

// The alignment of polynomial blocks (one cache line), which the pool frees them with.
inline constexpr std::align_val_t kPolynomialBlockAlignment{64};

// A pooled block of exactly `bytes` bytes (64-byte aligned, contents undefined), or nullptr if
// the pool is off, the size is not pooled, or no block of that size is free. Thread-safe.
void* take_pooled_block(size_t bytes) noexcept;

// Keeps `block` (from ::operator new(bytes, kPolynomialBlockAlignment)) for take_pooled_block and
// returns true; returns false, leaving the block to the caller, if the pool is off or the size is
// not pooled. Thread-safe.
bool return_pooled_block(void* block, size_t bytes) noexcept;

// Turns the pool on (as keep_freed_memory_for_reuse does) or off; off hands every pooled block back
// to malloc. For benchmarks that compare the two, and for tests. Does nothing where the pool does
// not exist (other C libraries, AddressSanitizer builds, where every free must reach the
// sanitizer).
void set_block_pool_enabled(bool enabled) noexcept;

// What the pool holds now: distinct block sizes, free blocks, and their bytes.
struct PoolStatistics {
  size_t sizes = 0;
  size_t blocks = 0;
  size_t bytes = 0;
};
PoolStatistics pooled_block_statistics();

// Once keep_freed_memory_for_reuse() has run: if the heap's end has moved since the last call,
// marks the heap from the last marked address to its end with madvise(MADV_HUGEPAGE). Cheap
// otherwise (one atomic load and sbrk(0), which makes no system call). Thread-safe; never
// throws; does nothing under other C libraries or AddressSanitizer. Called by
// CacheLineAllocator (poly.hpp) after each large allocation.
void advise_huge_pages_after_heap_growth() noexcept;

}  // namespace cryptonets
