//! Work that runs off the inference path (shape-specialized compiles now; cache writes
//! later), with one guarantee: the process does not tear OpenVINO down under it.
//!
//! A detached thread still compiling when the host calls `exit()` would race OpenVINO's
//! static destructors and could crash the host. The first spawn registers an `atexit`
//! handler; handlers run in reverse order of registration, so ours runs before the
//! destructors OpenVINO registered when it was loaded, and waits (bounded) for in-flight work.

use std::sync::{Condvar, Mutex, Once};
use std::time::{Duration, Instant};

static IN_FLIGHT: Mutex<usize> = Mutex::new(0);
/// The process is exiting or ovep is being unloaded: work that waits for a better moment
/// (`wait_for`) starts now.
static ENDING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static DONE: Condvar = Condvar::new();
static REGISTER: Once = Once::new();

/// Longest a process exit waits for background work.
const EXIT_WAIT: Duration = Duration::from_secs(60);
/// Longest `ReleaseEpFactory` waits for it (ORT may unload the library right after).
pub const RELEASE_WAIT: Duration = EXIT_WAIT;

extern "C" {
    fn atexit(cb: extern "C" fn()) -> std::ffi::c_int;
}

extern "C" fn wait_at_exit() {
    ENDING.store(true, std::sync::atomic::Ordering::Release);
    wait_idle(EXIT_WAIT);
}

/// Let waiting work start now and wait for it (ovep is being unloaded).
pub fn finish(timeout: Duration) -> bool {
    ENDING.store(true, std::sync::atomic::Ordering::Release);
    wait_idle(timeout)
}

/// On a background thread: wait until `ready()` holds, the process ends, or `limit` passes.
/// For work that competes with the host for cores (a cache write) and can wait for a quieter
/// moment (after the first inference).
pub fn wait_for(limit: Duration, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() && !ENDING.load(std::sync::atomic::Ordering::Acquire) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Run `f` on a new thread. Panics inside `f` are caught (they end only that work).
pub fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    // SAFETY: registering a plain extern "C" function with the C runtime.
    REGISTER.call_once(|| unsafe {
        atexit(wait_at_exit);
    });
    *IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    let finished = || {
        let mut n = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        DONE.notify_all();
    };
    let delay = injected_delay();
    let spawned = std::thread::Builder::new().name(format!("ovep-{name}")).spawn(move || {
        std::thread::sleep(delay);
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        finished();
    });
    if spawned.is_err() {
        // No thread: the work is simply not done (it is an optimisation).
        finished();
    }
}

/// Test hook: `OVEP_INJECT_BACKGROUND_DELAY_MS=<ms>` starts background work that much later,
/// so the tests can make it outlive the session that started it.
fn injected_delay() -> Duration {
    static DELAY: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *DELAY.get_or_init(|| {
        let ms = std::env::var("OVEP_INJECT_BACKGROUND_DELAY_MS").ok().and_then(|v| v.parse().ok());
        Duration::from_millis(ms.unwrap_or(0))
    })
}

/// Block until no background work is in flight (false: `timeout` passed first).
pub fn wait_idle(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut n = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    while *n > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        n = DONE.wait_timeout(n, left).unwrap_or_else(|e| e.into_inner()).0;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn work_runs_and_panics_are_contained() {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        spawn("test", move || r.store(true, Ordering::SeqCst));
        spawn("test-panic", || panic!("contained"));
        assert!(wait_idle(Duration::from_secs(10)));
        assert!(ran.load(Ordering::SeqCst));
    }
}
