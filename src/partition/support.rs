//! Decides whether one node may go to OpenVINO: finds its rule in [`RULES`] and applies the
//! type checks every node shares.

use crate::onnx::dtype::{DataType, TypeSet};
use crate::partition::facts::{NodeFacts, ValueFacts};
use crate::partition::rules::{OpRule, RULES};

/// Element types OpenVINO's CPU plugin computes exactly as ORT does. Left out: f64 (computed
/// as f32), string, complex, float8 and 4-bit types, and u64 (values >= 2^31 came back
/// corrupted even through Concat/Add: the plugin runs 64-bit integers as 32-bit).
///
/// i64 stays in because shapes and indices need it, with the same caveat: measured on the
/// 2026.4.1 CPU plugin, i64 values outside the i32 range are truncated (Concat, Gather, Add,
/// a Slice end of INT64_MAX fed at run time). Constants folded at conversion are not affected.
pub const SUPPORTED_TYPES: TypeSet = TypeSet::of(&[
    DataType::Float,
    DataType::Float16,
    DataType::Bfloat16,
    DataType::Int8,
    DataType::Uint8,
    DataType::Int16,
    DataType::Uint16,
    DataType::Int32,
    DataType::Int64,
    DataType::Uint32,
    DataType::Bool,
]);

/// `Ok` when OpenVINO may take the node, otherwise a short reason for the log.
pub fn check_node(facts: &NodeFacts) -> Result<(), String> {
    let domain = normalize_domain(&facts.domain);
    let rule = find_rule(domain, &facts.op_type, facts.since_version)?;
    check_values("input", &facts.inputs)?;
    check_values("output", &facts.outputs)?;
    if let Some(t) = facts.input_type(0) {
        if !rule.types.contains(t) {
            return Err(format!("input 0 type {} not supported", t.name()));
        }
    }
    match rule.check {
        Some(check) => check(facts),
        None => Ok(()),
    }
}

/// If, Loop and Scan: nodes whose subgraphs the partitioner converts before claiming them.
pub fn is_control_flow(op: &str, domain: &str) -> bool {
    normalize_domain(domain).is_empty() && matches!(op, "If" | "Loop" | "Scan")
}

/// ORT reports the default domain as "" or "ai.onnx".
fn normalize_domain(domain: &str) -> &str {
    if domain == "ai.onnx" {
        ""
    } else {
        domain
    }
}

fn qualified(domain: &str, op: &str) -> String {
    if domain.is_empty() {
        op.to_string()
    } else {
        format!("{domain}.{op}")
    }
}

fn find_rule(domain: &str, op: &str, version: i32) -> Result<&'static OpRule, String> {
    let mut rules = RULES.iter().filter(|r| r.domain == domain && r.op == op).peekable();
    if rules.peek().is_none() {
        return Err(format!("no rule for {}", qualified(domain, op)));
    }
    let (mut lowest, mut highest) = (i32::MAX, i32::MIN);
    for r in rules {
        if (r.since..=r.until).contains(&version) {
            return Ok(r);
        }
        lowest = lowest.min(r.since);
        highest = highest.max(r.until);
    }
    let name = qualified(domain, op);
    Err(if version > highest {
        format!("{name} opset {version} > supported {highest}")
    } else if version < lowest {
        format!("{name} opset {version} < supported {lowest}")
    } else {
        format!("{name} opset {version} not supported")
    })
}

fn check_values(kind: &str, values: &[ValueFacts]) -> Result<(), String> {
    for (i, v) in values.iter().enumerate().filter(|(_, v)| v.is_present()) {
        if v.non_tensor {
            return Err(format!("{kind} {i} is not a tensor"));
        }
        match v.elem_type {
            None => return Err(format!("{kind} {i} type unknown")),
            Some(t) if !SUPPORTED_TYPES.contains(t) => {
                return Err(format!("{kind} {i} type {} not supported", t.name()))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::facts::AttrValue;

    fn tensor(name: &str, t: DataType, dims: &[i64]) -> ValueFacts {
        ValueFacts::tensor(name, t, dims)
    }

    fn conv() -> NodeFacts {
        let mut w = tensor("w", DataType::Float, &[4, 3, 3, 3]);
        w.is_constant = true;
        NodeFacts {
            name: "conv".into(),
            op_type: "Conv".into(),
            domain: String::new(),
            since_version: 11,
            inputs: vec![tensor("x", DataType::Float, &[1, 3, 8, 8]), w],
            outputs: vec![tensor("y", DataType::Float, &[1, 4, 6, 6])],
            attributes: vec![("kernel_shape".into(), AttrValue::Ints(vec![3, 3]))],
            has_subgraphs: false,
        }
    }

    fn unary(op: &str, since: i32, from: DataType, to: DataType) -> NodeFacts {
        NodeFacts {
            op_type: op.into(),
            since_version: since,
            inputs: vec![tensor("x", from, &[2, 3])],
            outputs: vec![tensor("y", to, &[2, 3])],
            ..Default::default()
        }
    }

    #[test]
    fn conv_f32_passes() {
        assert_eq!(check_node(&conv()), Ok(()));
    }

    #[test]
    fn cast_to_double_is_refused() {
        let mut cast = unary("Cast", 21, DataType::Float, DataType::Double);
        cast.attributes = vec![("to".into(), AttrValue::Int(DataType::Double as i64))];
        let err = check_node(&cast).unwrap_err();
        assert!(err.contains("output 0") && err.contains("float64"), "{err}");
        let from_double = unary("Cast", 21, DataType::Double, DataType::Float);
        assert!(check_node(&from_double).unwrap_err().contains("input 0 type float64"));
        assert_eq!(check_node(&unary("Cast", 21, DataType::Float, DataType::Float16)), Ok(()));
    }

    #[test]
    fn unknown_op_is_named() {
        let mut n = unary("Foo", 1, DataType::Float, DataType::Float);
        n.domain = "com.microsoft".into();
        assert_eq!(check_node(&n), Err("no rule for com.microsoft.Foo".into()));
        let mut n = unary("TopK", 11, DataType::Float, DataType::Float);
        assert_eq!(check_node(&n), Err("no rule for TopK".into()));
        n.domain = "ai.onnx.ml".into();
        assert!(check_node(&n).unwrap_err().contains("ai.onnx.ml.TopK"));
    }

    #[test]
    fn out_of_range_opset_is_refused() {
        let mut n = conv();
        n.since_version = 23;
        assert_eq!(check_node(&n), Err("Conv opset 23 > supported 22".into()));
        let old = unary("Relu", 1, DataType::Float, DataType::Float);
        assert_eq!(check_node(&old), Err("Relu opset 1 < supported 6".into()));
        // ReduceL1-13 sits in the gap between the 1..11 and 18 rows.
        let gap = unary("ReduceL1", 13, DataType::Float, DataType::Float);
        assert_eq!(check_node(&gap), Err("ReduceL1 opset 13 not supported".into()));
    }

    #[test]
    fn rule_check_refuses_bad_attribute() {
        let mut pad = unary("Pad", 19, DataType::Float, DataType::Float);
        let mut pads = tensor("pads", DataType::Int64, &[4]);
        pads.is_constant = true;
        pad.inputs.push(pads);
        assert_eq!(check_node(&pad), Ok(()));
        pad.attributes = vec![("mode".into(), AttrValue::String(b"wrap".to_vec()))];
        assert_eq!(check_node(&pad), Err("mode 'wrap' not supported".into()));

        let mut resize = unary("Resize", 19, DataType::Float, DataType::Float);
        resize.attributes = vec![("mode".into(), AttrValue::String(b"linear".to_vec()))];
        assert_eq!(check_node(&resize), Ok(()));
        resize.attributes.push(("antialias".into(), AttrValue::Int(1)));
        assert_eq!(check_node(&resize), Err("antialias=1 not supported".into()));
    }

    #[test]
    fn input_type_is_checked_against_the_rule() {
        // u8 arithmetic saturates in OpenVINO where ORT wraps.
        let mut add = unary("Add", 14, DataType::Uint8, DataType::Uint8);
        add.inputs.push(tensor("b", DataType::Uint8, &[2, 3]));
        assert_eq!(check_node(&add), Err("input 0 type uint8 not supported".into()));
        let sqrt = unary("Sqrt", 13, DataType::Int32, DataType::Int32);
        assert_eq!(check_node(&sqrt), Err("input 0 type int32 not supported".into()));
    }

    #[test]
    fn non_tensors_and_unknown_types_are_refused() {
        let mut n = unary("Identity", 16, DataType::Float, DataType::Float);
        n.inputs[0].non_tensor = true;
        n.inputs[0].elem_type = None;
        assert_eq!(check_node(&n), Err("input 0 is not a tensor".into()));
        let mut n = unary("Identity", 16, DataType::Float, DataType::Float);
        n.outputs[0].elem_type = None;
        assert_eq!(check_node(&n), Err("output 0 type unknown".into()));
        // An omitted optional input is skipped.
        let mut n = unary("Identity", 16, DataType::Float, DataType::Float);
        n.inputs.push(ValueFacts::default());
        assert_eq!(check_node(&n), Ok(()));
    }

    #[test]
    fn domain_is_normalised() {
        let mut n = conv();
        n.domain = "ai.onnx".into();
        assert_eq!(check_node(&n), Ok(()));
        assert!(is_control_flow("Loop", "ai.onnx"));
        assert!(is_control_flow("If", ""));
        assert!(is_control_flow("Scan", ""));
        assert!(!is_control_flow("If", "com.microsoft"));
        assert!(!is_control_flow("Conv", ""));
    }

    #[test]
    fn contrib_op_with_check() {
        let mut gemm = unary("FusedGemm", 1, DataType::Float, DataType::Float);
        gemm.domain = "com.microsoft".into();
        gemm.attributes = vec![("activation".into(), AttrValue::String(b"Relu".to_vec()))];
        assert_eq!(check_node(&gemm), Ok(()));
        gemm.attributes = vec![("activation".into(), AttrValue::String(b"Tanh".to_vec()))];
        assert_eq!(check_node(&gemm), Err("activation 'Tanh' not supported".into()));
    }
}
