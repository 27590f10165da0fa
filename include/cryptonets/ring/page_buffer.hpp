// Per-thread scratch memory in pages that hold nothing else.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>

namespace cryptonets {

// A growable array of trivial T (words, doubles, pointers) that starts on a 4 KiB page and is
// followed by one unused page, so that no other object shares a page (or a cache line) with it.
// For scratch space that each thread of a parallel loop writes constantly: as a std::vector, the
// two threads' buffers came from the heap side by side, and each core then ran markedly slower
// than alone (measured on the dense layer's kernel, 2 threads: 189-228 ms against 152-165 ms;
// 1 thread 309-332 ms either way; bench_linear LinearLayer/fused). Two processes, which share
// no memory, never showed it. Presumably a core's writes or hardware prefetches reached the
// lines the other core was using at the buffers' shared boundary.
//
// ensure(count) returns storage for at least `count` elements, uninitialised; growing discards
// the contents. Throws std::bad_alloc when memory runs out. Not copyable; movable.
template <class T>
class PageBuffer {
  static_assert(std::is_trivial_v<T>, "PageBuffer holds trivial elements only");

 public:
  static constexpr size_t kPage = 4096;

  PageBuffer() = default;
  explicit PageBuffer(size_t count) { ensure(count); }
  ~PageBuffer() { std::free(data_); }
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  PageBuffer(PageBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), capacity_(std::exchange(other.capacity_, 0)) {}
  PageBuffer& operator=(PageBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(capacity_, other.capacity_);
    return *this;
  }

  T* ensure(size_t count) {
    if (count <= capacity_ && data_ != nullptr) return data_;
    const size_t pages = (count * sizeof(T) + kPage - 1) / kPage;
    // aligned_alloc needs a size that is a multiple of the alignment: whole pages, plus the
    // unused one after them.
    void* memory = std::aligned_alloc(kPage, (pages + 1) * kPage);
    if (memory == nullptr) throw std::bad_alloc();
    std::free(data_);
    data_ = static_cast<T*>(memory);
    capacity_ = pages * kPage / sizeof(T);
    return data_;
  }

  T* data() const { return data_; }
  size_t capacity() const { return capacity_; }  // elements

 private:
  T* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace cryptonets
