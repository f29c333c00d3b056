//! Handing memory back to the system: after a burst of work, and for every large block at
//! once. A leaf: the binary's start, the daemon's housekeeping, the outbox sender and the
//! Maildir source call it; it calls nothing of ours.

/// Gives memory freed after a burst of work back to the system. glibc's allocator keeps
/// freed memory for reuse, so without this a daemon that took in a backlog stays at its
/// peak size while idle.
pub fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heap; it takes no pointers from us and is
    // safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Makes every allocation of 4 MiB or more a mapping of its own, given back to the system
/// when freed. glibc otherwise raises that threshold to the size of the largest block freed
/// and keeps later blocks of that size in each thread's arena: every argon2 hash (19 MiB
/// by default) on a new blocking thread would then keep 19 MiB for good. Call it once, at
/// the start of the process.
pub fn large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of glibc's allocator; it takes no pointers and
    // is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// Makes every thread allocate from the one heap of the main thread. A process that takes
/// one message and exits (`maildesk ingest`) has three threads working one after another;
/// a heap of its own for each would be mapped and faulted in for a few allocations. Call it
/// before any other thread starts; the daemon, whose threads run at once, keeps glibc's
/// default.
pub fn one_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of glibc's allocator; it takes no pointers and
    // is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
