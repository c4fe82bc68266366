#include "esr/heap.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <malloc.h>

// What the daemon asks of glibc's allocator, observed through glibc itself. Under a sanitizer the
// sanitizer's allocator serves malloc and glibc's sees nothing, so there is nothing to observe.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ESR_GLIBC_ALLOCATOR 0
#else
#define ESR_GLIBC_ALLOCATOR 1
#endif

namespace {

void* volatile kept;  // so the compiler cannot pair a malloc with its free and drop both

long anonymous_kb() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("RssAnon:", 0) == 0) return std::stol(line.substr(8));
    return -1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(heap)

BOOST_AUTO_TEST_CASE(a_large_block_has_pages_of_its_own_even_after_a_larger_one_was_freed) {
    if (!ESR_GLIBC_ALLOCATOR) return;
    esr::heap::return_large_blocks();
    kept = std::malloc(20u << 20);
    std::free(kept);  // glibc's default would now serve blocks up to 20 MB from the heap
    const auto before = mallinfo2().hblks;
    kept = std::malloc(1u << 20);
    BOOST_TEST(mallinfo2().hblks == before + 1);
    std::free(kept);
}

BOOST_AUTO_TEST_CASE(the_free_pages_of_the_heap_go_back_to_the_system) {
    if (!ESR_GLIBC_ALLOCATOR) return;
    // 24 MB of records' strings, with one block after them that keeps the heap from shrinking
    // from its top when they are freed.
    std::vector<void*> strings(40'000);
    for (auto& s : strings) {
        s = std::malloc(600);
        static_cast<char*>(s)[0] = 1;
    }
    kept = std::malloc(600);
    for (auto* s : strings) std::free(s);
    const long freed = anonymous_kb();
    esr::heap::release_free_pages();
    const long released = anonymous_kb();
    BOOST_TEST_MESSAGE("RssAnon " << freed << " kB freed, " << released << " kB after release_free_pages");
    BOOST_TEST(freed - released > 16 * 1024);
    std::free(kept);
}

BOOST_AUTO_TEST_SUITE_END()
