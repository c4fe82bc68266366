#include "esr/heap.hpp"

#include <cstdlib>  // defines __GLIBC__ where it is glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace esr::heap {

void return_large_blocks() {
#if defined(__GLIBC__)
    // Setting the threshold at all turns its raising off; 128 KiB is glibc's own starting value.
    ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

void release_free_pages() {
#if defined(__GLIBC__)
    ::malloc_trim(0);
#endif
}

}  // namespace esr::heap
