//! ONNX element types <-> OpenVINO element types.

use openvino_sys::ov_element_type_e as E;

use crate::onnx::dtype::DataType;

/// The OpenVINO element type for an ONNX one, when OpenVINO has it.
pub fn to_ov(t: DataType) -> Option<E> {
    Some(match t {
        DataType::Float => E::F32,
        DataType::Float16 => E::F16,
        DataType::Bfloat16 => E::BF16,
        DataType::Double => E::F64,
        DataType::Int8 => E::I8,
        DataType::Int16 => E::I16,
        DataType::Int32 => E::I32,
        DataType::Int64 => E::I64,
        DataType::Uint8 => E::U8,
        DataType::Uint16 => E::U16,
        DataType::Uint32 => E::U32,
        DataType::Uint64 => E::U64,
        DataType::Bool => E::OV_BOOLEAN,
        DataType::Int4 => E::I4,
        DataType::Uint4 => E::U4,
        _ => return None,
    })
}

/// The ONNX element type for an OpenVINO one given as its raw value.
pub fn from_ov(raw: i32) -> Option<DataType> {
    [
        DataType::Float,
        DataType::Float16,
        DataType::Bfloat16,
        DataType::Double,
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::Uint8,
        DataType::Uint16,
        DataType::Uint32,
        DataType::Uint64,
        DataType::Bool,
        DataType::Int4,
        DataType::Uint4,
    ]
    .into_iter()
    .find(|t| to_ov(*t).map(|e| e as i32) == Some(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for t in DataType::ALL {
            if let Some(e) = to_ov(t) {
                assert_eq!(from_ov(e as i32), Some(t));
            }
        }
        assert_eq!(from_ov(E::STRING as i32), None);
    }
}
