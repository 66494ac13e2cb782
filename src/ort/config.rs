//! Session configuration entries and key/value pairs.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use super::abi::{OrtKeyValuePairs, OrtSessionOptions};
use super::api::api;
use super::status::check;
use crate::error::Result;

/// All `(key, value)` config entries of a session, in ORT's order.
///
/// # Safety
/// `options` must be the live session options ORT passed to the current call.
pub unsafe fn session_config_entries(options: *const OrtSessionOptions) -> Result<Vec<(String, String)>> {
    let mut kvps: *mut OrtKeyValuePairs = ptr::null_mut();
    // We own `kvps` and release it.
    check((api().GetSessionOptionsConfigEntries)(options, &mut kvps))?;
    let entries = key_value_pairs(kvps);
    (api().ReleaseKeyValuePairs)(kvps);
    Ok(entries)
}

/// Copy out the entries of a key/value pair set.
///
/// # Safety
/// `kvps` must be NULL or a live `OrtKeyValuePairs`.
pub unsafe fn key_value_pairs(kvps: *const OrtKeyValuePairs) -> Vec<(String, String)> {
    if kvps.is_null() {
        return Vec::new();
    }
    let mut keys: *const *const c_char = ptr::null();
    let mut values: *const *const c_char = ptr::null();
    let mut n = 0usize;
    (api().GetKeyValuePairs)(kvps, &mut keys, &mut values, &mut n);
    (0..n)
        .map(|i| {
            let k = CStr::from_ptr(*keys.add(i)).to_string_lossy().into_owned();
            let v = CStr::from_ptr(*values.add(i)).to_string_lossy().into_owned();
            (k, v)
        })
        .collect()
}

/// An owned `OrtKeyValuePairs` we build (device metadata), released on drop.
pub struct KeyValuePairs(*mut OrtKeyValuePairs);

impl KeyValuePairs {
    pub fn new(entries: &[(&str, String)]) -> KeyValuePairs {
        let mut kvps = ptr::null_mut();
        // SAFETY: plain constructor; AddKeyValuePair copies both strings.
        unsafe {
            (api().CreateKeyValuePairs)(&mut kvps);
            for (k, v) in entries {
                let (Ok(k), Ok(v)) = (CString::new(*k), CString::new(v.as_str())) else {
                    continue;
                };
                (api().AddKeyValuePair)(kvps, k.as_ptr(), v.as_ptr());
            }
        }
        KeyValuePairs(kvps)
    }

    pub fn as_ptr(&self) -> *const OrtKeyValuePairs {
        self.0
    }
}

impl Drop for KeyValuePairs {
    fn drop(&mut self) {
        // SAFETY: created by CreateKeyValuePairs and not handed to ORT (ORT copies them).
        unsafe { (api().ReleaseKeyValuePairs)(self.0) }
    }
}
