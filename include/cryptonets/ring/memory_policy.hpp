// Process-wide allocator policy for programs that handle whole batches of ciphertexts.
#pragma once

#include <cstddef>

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

// Once keep_freed_memory_for_reuse() has run: if the heap's end has moved since the last call,
// marks the heap from the last marked address to its end with madvise(MADV_HUGEPAGE). Cheap
// otherwise (one atomic load and sbrk(0), which makes no system call). Thread-safe; never
// throws; does nothing under other C libraries or AddressSanitizer. Called by
// CacheLineAllocator (poly.hpp) after each large allocation.
void advise_huge_pages_after_heap_growth() noexcept;

}  // namespace cryptonets
