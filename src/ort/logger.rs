//! Logging through ORT's logger, so the user's `log_severity_level` applies.

use std::ffi::CString;
use std::sync::atomic::{AtomicPtr, Ordering};

use ort_sys::{OrtLogger, OrtLoggingLevel};

use super::api::api;
use super::status;

/// The logger ORT gave `CreateEpFactories`: used outside sessions.
static DEFAULT: AtomicPtr<OrtLogger> = AtomicPtr::new(std::ptr::null_mut());

#[derive(Clone, Copy)]
pub struct Logger(*const OrtLogger);

// SAFETY: ORT loggers are thread-safe and outlive the objects that hold them (the default
// logger lives as long as the environment; a session logger as long as its EP).
unsafe impl Send for Logger {}
unsafe impl Sync for Logger {}

pub fn set_default_logger(logger: *const OrtLogger) {
    DEFAULT.store(logger as *mut _, Ordering::Release);
}

pub fn default_logger() -> Logger {
    Logger(DEFAULT.load(Ordering::Acquire))
}

impl Logger {
    pub fn new(logger: *const OrtLogger) -> Logger {
        if logger.is_null() {
            default_logger()
        } else {
            Logger(logger)
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
        if self.0.is_null() {
            // No ORT logger yet (or ever): stay silent rather than write to the host's stderr.
            return;
        }
        let Ok(text) = CString::new(msg.replace('\0', " ")) else {
            return;
        };
        // SAFETY: valid logger; the strings live across the call. `file` is an os_char path
        // (char on Linux); we pass our crate name since the Rust file would mean nothing.
        unsafe {
            let s = (api().Logger_LogMessage)(self.0, level, text.as_ptr(), c"ovep".as_ptr(), 0, c"ovep".as_ptr());
            status::ignore(s);
        }
    }
}
