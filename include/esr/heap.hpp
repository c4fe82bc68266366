#pragma once

// What the daemon asks of the C library's allocator, so that a large delivery's memory goes back
// to the system once it is stored instead of staying with the process. No-ops where the C library
// is not glibc.

namespace esr::heap {

/// At start: blocks from 128 KiB up (a body, a batch of rows, a large delivery's record vector)
/// get pages of their own, returned when freed. glibc's default raises that threshold to the
/// largest such block freed so far (up to 32 MiB), after which a 20 MB body's successors come from
/// the heap, where what is freed stays with the process.
void return_large_blocks();

/// After a large delivery's records are freed: gives the free pages of every heap back.
void release_free_pages();

}  // namespace esr::heap
