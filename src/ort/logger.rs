//! Logging through ORT's logger, so the user's `log_severity_level` applies.
//!
//! ORT's loggers die with their owners: a session's logger with the session, the default
//! logger with the environment (ORT 1.23 destroys it at exit without releasing the factory
//! first). Background work (cache writes, shape compiles) can outlive both, so a session's
//! `Logger` is a revocable handle: ovep revokes it when the session starts tearing down (the
//! first `ReleaseState`, or `ReleaseEp`), and its later messages are dropped: falling back to
//! the default logger would crash a process exiting on ORT 1.23. `ReleaseEpFactory` clears the
//! default logger too. Each message holds a read lock across the ORT call, so a revoke never
//! lands in the middle of one.

use std::ffi::CString;
use std::sync::{Arc, RwLock};

use ort_sys::{OrtLogger, OrtLoggingLevel};

use super::api::api;
use super::status;

/// A logger pointer that may be shared between threads.
#[derive(Clone, Copy)]
struct Ptr(*const OrtLogger);

// SAFETY: ORT loggers are thread-safe; the locks around `Ptr` keep each use within the
// logger's lifetime (see the module comment).
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

/// The logger ORT gave `CreateEpFactories`: used outside sessions and after one ends.
static DEFAULT: RwLock<Ptr> = RwLock::new(Ptr(std::ptr::null()));

pub fn set_default_logger(logger: *const OrtLogger) {
    *DEFAULT.write().unwrap_or_else(|e| e.into_inner()) = Ptr(logger);
}

/// The factory is going away: ORT's default logger may go with it.
pub fn clear_default_logger() {
    set_default_logger(std::ptr::null());
}

/// The default logger (messages outside any session).
pub fn default_logger() -> Logger {
    Logger(None)
}

/// A session's logger (or the default one); clones share one revocation.
#[derive(Clone)]
pub struct Logger(Option<Arc<RwLock<Ptr>>>);

impl Logger {
    /// The session logger ORT passed to `CreateEp` (null: the default logger).
    pub fn session(logger: *const OrtLogger) -> Logger {
        if logger.is_null() {
            default_logger()
        } else {
            Logger(Some(Arc::new(RwLock::new(Ptr(logger)))))
        }
    }

    /// The session is ending: drop later messages (see the module comment).
    pub fn revoke(&self) {
        if let Some(slot) = &self.0 {
            *slot.write().unwrap_or_else(|e| e.into_inner()) = Ptr(std::ptr::null());
        }
    }

    pub fn verbose(&self, msg: &str) {
        self.log(OrtLoggingLevel::ORT_LOGGING_LEVEL_VERBOSE, msg)
    }
    pub fn info(&self, msg: &str) {
        self.log(OrtLoggingLevel::ORT_LOGGING_LEVEL_INFO, msg)
    }
    pub fn warn(&self, msg: &str) {
        self.log(OrtLoggingLevel::ORT_LOGGING_LEVEL_WARNING, msg)
    }
    pub fn error(&self, msg: &str) {
        self.log(OrtLoggingLevel::ORT_LOGGING_LEVEL_ERROR, msg)
    }

    fn log(&self, level: OrtLoggingLevel, msg: &str) {
        if let Some(slot) = &self.0 {
            let session = slot.read().unwrap_or_else(|e| e.into_inner());
            return write(*session, level, msg);
        }
        let default = DEFAULT.read().unwrap_or_else(|e| e.into_inner());
        write(*default, level, msg)
    }
}

/// One message; the caller holds the lock that keeps `logger` alive.
fn write(logger: Ptr, level: OrtLoggingLevel, msg: &str) {
    if logger.0.is_null() {
        // No ORT logger (yet, or any more): stay silent rather than write to the host's stderr.
        return;
    }
    let Ok(text) = CString::new(msg.replace('\0', " ")) else {
        return;
    };
    // SAFETY: a live logger (see the caller); the strings live across the call. `file` is an
    // os_char path (char on Linux); we pass our crate name since the Rust file would mean nothing.
    unsafe {
        let s = (api().Logger_LogMessage)(logger.0, level, text.as_ptr(), c"ovep".as_ptr(), 0, c"ovep".as_ptr());
        status::ignore(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoked_session_logger_goes_silent_in_every_clone() {
        let fake = 0x1000 as *const OrtLogger; // never dereferenced: only the routing is checked
        let session = Logger::session(fake);
        let clone = session.clone();
        let slot = |l: &Logger| l.0.as_ref().map(|s| s.read().unwrap().0);
        assert_eq!(slot(&clone), Some(fake));
        session.revoke();
        assert_eq!(slot(&clone), Some(std::ptr::null()), "clones share the revocation");
        assert!(Logger::session(std::ptr::null()).0.is_none(), "null means the default logger");
    }
}
