//! Allocator settings for the plugin process.
//!
//! A plan of 4,000 grants receives two states of about 4 MiB each on the wire, decodes them
//! and writes a third back, all within one request. With glibc's defaults the freed memory of
//! one phase does not serve the next: each tokio worker allocates from its own arena, and the
//! adaptive mmap threshold moves megabyte buffers onto the heap, where they leave holes. The
//! peak resident set was then twice the peak heap (docs/performance.md, "Peak RSS").
//!
//! So, before any thread starts: one arena (the provider does I/O-bound work on two workers,
//! lock contention is not measurable), and a fixed 128 KiB threshold above which blocks are
//! mapped and unmapped on their own and the heap's top is given back.

/// Blocks from this size on get their own mapping; also the heap top kept when trimming.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const LARGE_BLOCK: libc::c_int = 128 * 1024;

/// Apply the settings. Call first thing in `main`, before any thread exists.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocator parameters; called before other threads
    // exist, so no allocation races with it. A refused setting leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE_BLOCK);
        libc::mallopt(libc::M_TRIM_THRESHOLD, LARGE_BLOCK);
    }
}
