//! Handing memory back to the system after a burst of work. A leaf: the daemon's
//! housekeeping, the outbox sender and the Maildir source call it; it calls nothing of ours.

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
