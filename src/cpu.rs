//! Where a short-lived process runs. A leaf: the binary's start calls it; it calls nothing
//! of ours.

/// Keeps the calling thread, and every thread it starts afterwards, on the CPU it runs on
/// now. `maildesk ingest` takes one message and exits, handing each statement to SQLite's
/// worker thread and the message to a thread that reads it under a time limit: on one CPU
/// such a hand-over is a switch between threads, across two it is an interrupt that wakes
/// the other CPU (in a virtual machine, an exit to the hypervisor). The kernel chose this
/// CPU as the least busy when the process started. Call it before any other thread starts.
/// Where the CPU cannot be known or kept, nothing changes: it only saves time.
pub fn stay_on_this_cpu() {
    #[cfg(target_os = "linux")]
    // SAFETY: sched_getcpu takes nothing. The set is a zeroed local value (a valid empty
    // set), the index is checked against its size (CPU_SET does not check), and
    // sched_setaffinity reads only the size it is given.
    unsafe {
        let Ok(cpu) = usize::try_from(libc::sched_getcpu()) else { return };
        if cpu >= libc::CPU_SETSIZE as usize {
            return;
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The CPUs the calling thread may run on.
    fn allowed() -> Vec<usize> {
        // SAFETY: the set is a zeroed local value of the size passed.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set), 0);
            (0..libc::CPU_SETSIZE as usize).filter(|&cpu| libc::CPU_ISSET(cpu, &set)).collect()
        }
    }

    #[test]
    fn a_thread_stays_on_its_cpu_and_the_threads_it_starts_stay_with_it() {
        // A thread of its own: the affinity of the test's thread stays as it was.
        let harness = allowed();
        std::thread::spawn(|| {
            let before = allowed();
            super::stay_on_this_cpu();
            let now = allowed();
            assert_eq!(now.len(), 1, "one CPU, not {now:?}");
            assert!(before.contains(&now[0]), "{now:?} is one of {before:?}");
            // SAFETY: sched_getcpu takes nothing.
            assert_eq!(unsafe { libc::sched_getcpu() } as usize, now[0]);
            let started = std::thread::spawn(allowed).join().unwrap();
            assert_eq!(started, now, "a thread started afterwards inherits the CPU");
        })
        .join()
        .unwrap();
        assert_eq!(allowed(), harness);
    }
}
