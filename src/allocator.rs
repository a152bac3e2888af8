//! Giving memory back after bursts of large images.
//!
//! A burst of big inputs (decoded pixels, the coefficient buffers of progressive JPEGs, frames of
//! several megabytes) leaves glibc's heaps full of free memory that malloc keeps for reuse, and
//! resident memory stays at its peak. Measured here with 64 concurrent 16-megapixel thumbnails:
//! 5 MiB idle, 190 MiB peak, still 190 MiB afterwards. Two obvious fixes cost too much or do not
//! work:
//! - forcing large blocks into their own mappings (a fixed, low `M_MMAP_THRESHOLD`) returns the
//!   memory, but every job then pays page faults on fresh mappings: 30% slower thumbnails;
//! - `malloc_trim` alone releases free pages *inside* each heap but never the free top of the
//!   per-thread arenas' heaps: 116 MiB stayed resident.
//!
//! So the daemon uses one arena ([`configure`]: `M_ARENA_MAX = 1`; small allocations still go
//! through glibc's per-thread caches without the lock), keeps malloc's fast reuse while busy,
//! and calls [`release_free_memory`] once the worker pool has gone idle (`server::trim`, which
//! keeps a bounded reserve at the heap's top for a while, for the next request's pages, and
//! leaves a heap with at most `trim::KEEP_FREE` free alone until a long quiet).
//! Measured: same throughput, peak about the same, 6 MiB resident a second after the burst.
//!
//! Blocks over glibc's largest mmap threshold (32 MiB) would still get mappings of their own,
//! unmapped at free: a 64 MiB request body then arrives in fresh pages every time, and their
//! page faults cost more than the copy through the socket (BLAKE3 of 64 MiB end to end: 1.24 GB/s,
//! against 4.3 GB/s at 16 MiB; `make bench`). `M_MMAP_MAX = 0` keeps every block in the heap,
//! so a burst's memory is reused while busy, and the idle trim returns it all the same
//! (`malloc_trim` releases free pages anywhere in the heap, not only at its top). That needs a
//! fixed, high `M_TRIM_THRESHOLD` too: without mmap, glibc's threshold stays at 128 KiB and every
//! large free at the top of the heap would shrink it, so the next job faults its pages back in.
//! Trimming is the idle task's job alone. For thumbnails the settings are neutral: the corpus
//! bench alternated with `FERRY_BENCH_MALLOC_DEFAULTS=1`, three runs each, summed 468-565 ms
//! against glibc's defaults' 495-590 ms, within this machine's run-to-run noise.

/// Sets malloc up as described above. Call once at start, before other threads exist. A no-op
/// where the C library is not glibc.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc parameters; called before any other thread allocates.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// Returns free heap memory to the kernel (`malloc_trim(keep)`: free pages inside the heap, and
/// its free top beyond `keep` bytes). Takes milliseconds after a large burst; call it off the
/// reactor. A no-op where the C library is not glibc.
pub fn release_free_memory(keep: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory malloc holds as free; it is thread-safe.
    unsafe {
        libc::malloc_trim(keep);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = keep;
}

/// Bytes malloc holds free in its heap (`mallinfo2().fordblks`), or `None` where the C library
/// is not glibc. Cheap: glibc sums its bins, it does not walk the heap.
pub fn free_heap_bytes() -> Option<usize> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallinfo2 only reads malloc's statistics; it is thread-safe.
    return Some(unsafe { libc::mallinfo2() }.fordblks);
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}
