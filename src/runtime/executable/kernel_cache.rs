//! OpenVINO's CPU kernel cache (its runtime cache of per-shape executors), grown where a
//! dynamic model's input shapes recur.
//!
//! A compiled model starts with a small cache, so that shapes used once cost little memory
//! (`ov::memory_bounds` has the measurements). When shapes keep coming back after others, as
//! an OCR stream's widths do, the small cache makes their executors again on nearly every run;
//! the generic model is then replaced, once and in the background, by the same model with the
//! grown cache: imported again from its blob, or compiled again from its ONNX form (over a
//! copy of the weights, so not for a model whose weights exceed a specialization's budget).

use std::sync::Arc;

use super::specialize::{ShapeState, SPECIALIZED_WEIGHT_BUDGET};
use super::{Compiled, Executable};
use crate::cache::Blob;
use crate::error::Result;
use crate::ort::kernel::KernelContext;
use crate::runtime::background;
use crate::runtime::weight_copy::WeightCopy;

/// Returns (runs at a shape seen before, after a run at another one) before the cache grows:
/// enough that a few shapes used in turn by chance do not grow it, few against the hundreds of
/// runs a recurring workload makes at the small cache's cost.
pub(super) const GROW_AFTER: u32 = 16;

/// Whether a dynamic model's input shapes recur.
#[derive(Default)]
pub(super) struct Recurrence {
    last: Vec<Vec<i64>>,
    returns: u32,
    /// Growing started (once per model, whether it works or not).
    started: bool,
}

impl Recurrence {
    /// A run of `shapes` on the generic model; `seen_before`: the shapes are among the recent
    /// ones (`ShapeState::seen`). Whether the kernel cache should grow now.
    pub(super) fn note(&mut self, shapes: &[Vec<i64>], seen_before: bool) -> bool {
        if self.last.as_slice() != shapes {
            if seen_before && !self.started {
                self.returns += 1;
            }
            self.last = shapes.to_vec();
        }
        !self.started && self.returns >= GROW_AFTER
    }
}

/// What the grown model is made from.
enum Source {
    /// The blob the generic model was imported from (the cache's, already checked).
    Blob(Blob),
    /// The ONNX form over a copy of the weights (ORT's may go before the compile ends).
    Onnx(Vec<u8>, Arc<WeightCopy>),
}

impl Executable {
    /// Under the shape lock, after `Recurrence::note` said so: start growing the kernel cache
    /// of `generic` in the background (`pending` keeps specializations and the session's end
    /// waiting for it, as for a specialization).
    pub(super) fn grow_kernel_cache(self: &Arc<Self>, st: &mut ShapeState, generic: &Compiled, ctx: &KernelContext) {
        let Some(properties) = self.target.grown_properties.clone() else {
            st.recurrence.started = true;
            return;
        };
        if st.pending || st.closing {
            return; // asked again at the next return
        }
        st.recurrence.started = true;
        let source = match generic.model.imported_from() {
            Some(blob) => Source::Blob(blob.clone()),
            // Compiled again over a copy of the weights, which the grown model keeps: within the
            // budget a shape specialization has, for the same reason.
            None if self.weight_bytes(ctx) > SPECIALIZED_WEIGHT_BUDGET => return,
            None => match self.owned_onnx(ctx) {
                Ok((onnx, weights)) => Source::Onnx(onnx, weights),
                Err(_) => return, // no ONNX form to compile again (an EPContext blob's model)
            },
        };
        st.pending = true;
        let me = self.clone();
        background::spawn("kernel-cache", move || me.grow(source, &properties));
    }

    /// Background: the generic model again, with `properties`, in its place.
    fn grow(&self, source: Source, properties: &[(String, String)]) {
        let started = std::time::Instant::now();
        let t = &self.target;
        let made: Result<Compiled> = match source {
            Source::Blob(blob) => {
                t.core.import(blob, &t.device, properties).and_then(|m| Compiled::new(m, &self.inputs, &self.outputs))
            }
            Source::Onnx(onnx, weights) => t
                .core
                .read_onnx(&onnx)
                .and_then(|m| t.core.compile(&m, &t.device, properties))
                .and_then(|m| Compiled::new(m, &self.inputs, &self.outputs))
                .map(|c| c.keeping(weights)),
        };
        let report = match made {
            Ok(compiled) => {
                *self.generic.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(compiled));
                format!(
                    "ovep: {}: its input shapes recur, so OpenVINO's CPU kernel cache grew to {} executors \
                     (the model made again in {} ms)",
                    self.name,
                    crate::ov::memory_bounds::GROWN_RUNTIME_CACHE_CAPACITY,
                    started.elapsed().as_millis()
                )
            }
            Err(e) => format!("ovep: {}: OpenVINO's CPU kernel cache stays small: {e}", self.name),
        };
        self.report(report);
        self.shapes.lock().unwrap_or_else(|e| e.into_inner()).pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_that_come_back_after_others_grow_the_cache_once() {
        let w = |n: i64| vec![vec![1, 3, 48, n]];
        let mut r = Recurrence::default();
        // 100 new widths, each run three times: nothing comes back.
        assert!((0..100).all(|n| (0..3).all(|k| !r.note(&w(n), k > 0))));
        // Two widths in turn: every run after the first two is a return.
        let mut grew = None;
        for i in 0..40 {
            if r.note(&w(i % 2), i >= 2) {
                grew.get_or_insert(i);
                r.started = true;
            }
        }
        assert_eq!(grew, Some(1 + GROW_AFTER as i64), "the 16th return");
        assert!(!r.note(&w(0), true) && !r.note(&w(1), true), "once");
    }
}
