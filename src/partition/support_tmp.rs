// TEMPORARY until rules.rs/support.rs land: claims everything except obvious non-tensors.
use crate::partition::facts::NodeFacts;
pub fn check_node(f: &NodeFacts) -> Result<(), String> {
    if f.inputs.iter().chain(&f.outputs).any(|v| {
        v.is_present()
            && (v.non_tensor
                || v.elem_type.is_none()
                || v.elem_type == Some(crate::onnx::dtype::DataType::Double)
                || v.elem_type == Some(crate::onnx::dtype::DataType::String))
    }) {
        return Err("type".into());
    }
    if !f.domain.is_empty() {
        return Err("domain".into());
    }
    Ok(())
}
