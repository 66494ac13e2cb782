//! ovep's error type. Every failure that reaches ONNX Runtime becomes an `OrtStatus`
//! carrying this message (see `ffi`), so messages are written for the user who reads them.

use std::fmt;

/// How ORT should classify the failure (maps onto `OrtErrorCode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad user input: an unknown option, a bad value.
    InvalidArgument,
    /// A file or library that is not there.
    NoSuchFile,
    /// The feature is not available (e.g. a device OpenVINO does not list).
    NotImplemented,
    /// Anything else that went wrong inside the EP or OpenVINO.
    EpFail,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub fn ep_fail(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::EpFail, message)
    }

    /// Prefix the message with what was being done, keeping the kind.
    pub fn context(self, what: impl fmt::Display) -> Self {
        Error { kind: self.kind, message: format!("{what}: {}", self.message) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Return early with an `EpFail` error built from a format string.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::ep_fail(format!($($arg)*)))
    };
}
