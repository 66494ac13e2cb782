//! Building nodes for ORT with its model editor API: the EPContext nodes ovep hands back
//! from Compile (ORT takes ownership of each node).

use std::ffi::{c_int, CString};
use std::ptr;

use ort_sys::{OrtNode, OrtOpAttr, OrtOpAttrType};

use super::api::api;
use super::status::check;
use crate::error::{Error, Result};

/// An attribute value ovep writes.
pub enum Attr {
    Int(i64),
    /// ORT copies strings up to their first NUL: binary data must be encoded first.
    Str(String),
}

/// Attributes made so far. `CreateNode` takes them (it releases each and nulls its slot);
/// any still here when building fails are released on drop.
struct Attrs(Vec<*mut OrtOpAttr>);

impl Drop for Attrs {
    fn drop(&mut self) {
        for &a in self.0.iter().filter(|a| !a.is_null()) {
            // SAFETY: created by CreateOpAttr and not taken by a node.
            unsafe { (api().ReleaseOpAttr)(a) }
        }
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::ep_fail(format!("ovep: NUL in '{}'", s.replace('\0', "\\0"))))
}

/// A new node; the caller hands it to ORT (which then owns it).
pub fn create_node(
    op_type: &str,
    domain: &str,
    name: &str,
    inputs: &[String],
    outputs: &[String],
    attributes: &[(&str, Attr)],
) -> Result<*mut OrtNode> {
    let mut attrs = Attrs(Vec::with_capacity(attributes.len()));
    for (attr_name, value) in attributes {
        let attr_name = cstring(attr_name)?;
        let mut out = ptr::null_mut();
        match value {
            Attr::Int(v) => {
                // SAFETY: one int64 at `v`, copied by ORT.
                unsafe {
                    check((api().CreateOpAttr)(
                        attr_name.as_ptr(),
                        (v as *const i64).cast(),
                        1,
                        OrtOpAttrType::ORT_OP_ATTR_INT,
                        &mut out,
                    ))?
                }
            }
            Attr::Str(s) => {
                let len = c_int::try_from(s.len())
                    .map_err(|_| Error::ep_fail(format!("ovep: attribute {attr_name:?} is over 2 GB")))?;
                let text = cstring(s)?;
                // SAFETY: a NUL-terminated string, copied by ORT.
                unsafe {
                    check((api().CreateOpAttr)(
                        attr_name.as_ptr(),
                        text.as_ptr().cast(),
                        len,
                        OrtOpAttrType::ORT_OP_ATTR_STRING,
                        &mut out,
                    ))?
                }
            }
        }
        attrs.0.push(out);
    }
    let (op_type, domain, name) = (cstring(op_type)?, cstring(domain)?, cstring(name)?);
    let inputs: Vec<CString> = inputs.iter().map(|s| cstring(s)).collect::<Result<_>>()?;
    let outputs: Vec<CString> = outputs.iter().map(|s| cstring(s)).collect::<Result<_>>()?;
    let input_ptrs: Vec<_> = inputs.iter().map(|s| s.as_ptr()).collect();
    let output_ptrs: Vec<_> = outputs.iter().map(|s| s.as_ptr()).collect();
    let editor = unsafe { (api().GetModelEditorApi)() };
    if editor.is_null() {
        return Err(Error::ep_fail("ovep: this ONNX Runtime has no model editor API (needed for EPContext nodes)"));
    }
    let mut node = ptr::null_mut();
    // SAFETY: all strings and attributes live across the call; ORT copies what it keeps.
    unsafe {
        check(((*editor).CreateNode)(
            op_type.as_ptr(),
            domain.as_ptr(),
            name.as_ptr(),
            input_ptrs.as_ptr(),
            input_ptrs.len(),
            output_ptrs.as_ptr(),
            output_ptrs.len(),
            attrs.0.as_mut_ptr(),
            attrs.0.len(),
            &mut node,
        ))?;
    }
    Ok(node)
}
