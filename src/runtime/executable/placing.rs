//! Measured placement, as a fused subgraph's runs carry it out (`runtime::placement` holds
//! the trial's arithmetic): counting steady OpenVINO runs, building the CPU session in the
//! background, alternating the two sides on the session's own runs (again after a close call),
//! and, once ORT's kernels win, running them and telling the session (which records the verdict
//! in the cache).

use std::sync::Arc;

use super::{Executable, WriteTicket};
use crate::bail;
use crate::error::{Error, Result};
use crate::ort::cpu_session::CpuSession;
use crate::ort::kernel::KernelContext;
use crate::runtime::background;
use crate::runtime::placement::{self, Side, Trial};

/// How a run's time counts for placement (`after_run`).
#[derive(Clone, Copy)]
pub(super) enum Timed {
    /// A trial run: its whole cycle (call to next call) and its own run, in microseconds.
    Trial { cycle_us: u64, run_us: u64 },
    /// Any other run: its own time.
    Run(u64),
}

/// What a session does when placement hands a subgraph to ORT's kernels (record it in the
/// cache); the write ticket keeps the session's end waiting for it.
pub type PlacedHook = Box<dyn FnOnce(WriteTicket) + Send>;

/// Where a subgraph's runs stand in measured placement.
pub(super) enum Placement {
    /// Counting steady OpenVINO runs.
    Warming { runs: u32 },
    /// The CPU session is being built in the background.
    Building,
    /// Both sides alternate on these input shapes; `trials` counts this one.
    Trial { cpu: Arc<CpuSession>, trial: Trial, shapes: Vec<Vec<i64>>, trials: u32 },
    /// After a close call: OpenVINO computes `runs` runs, then a new trial on these shapes.
    Pausing { cpu: Arc<CpuSession>, shapes: Vec<Vec<i64>>, runs: u32, trials: u32 },
    /// ORT's CPU kernels compute the subgraph.
    CpuEp(Arc<CpuSession>),
    /// OpenVINO computes the subgraph.
    OpenVino,
}

impl Executable {
    /// The ONNX form with this run's weights inside it, for a CPU session.
    pub(super) fn embedded_onnx(&self, ctx: &KernelContext) -> Result<Vec<u8>> {
        let weights = self.current_weights(ctx)?;
        let views: Vec<(String, &[u8])> = weights.iter().map(|(n, t)| (n.clone(), t.as_bytes())).collect();
        crate::onnx::export::with_embedded_weights(&self.onnx, &views)
    }

    /// Who computes a run of `shapes`: the CPU session (Some) or OpenVINO, and whether the
    /// run's time counts in the placement trial.
    pub(super) fn placed(&self, shapes: &[Vec<i64>]) -> (Option<Arc<CpuSession>>, bool) {
        let Some(placement) = &self.placement else { return (None, false) };
        match &*placement.lock().unwrap_or_else(|e| e.into_inner()) {
            Placement::CpuEp(cpu) => (Some(cpu.clone()), false),
            Placement::Trial { cpu, trial, shapes: s, .. } if s == shapes => match trial.next() {
                Side::CpuEp => (Some(cpu.clone()), true),
                Side::OpenVino => (None, true),
            },
            _ => (None, false),
        }
    }

    /// After a run on `side`: the trial's bookkeeping, or, once OpenVINO's runs are steady and
    /// small, the start of the CPU session's build.
    pub(super) fn after_run(self: &Arc<Self>, shapes: &[Vec<i64>], side: Side, timed: Timed, ctx: &KernelContext) {
        let Some(placement) = &self.placement else { return };
        let mut p = placement.lock().unwrap_or_else(|e| e.into_inner());
        match (&mut *p, timed) {
            (Placement::Trial { cpu, trial, shapes: s, trials }, Timed::Trial { cycle_us, run_us }) => {
                let Some(winner) = trial.record(side, cycle_us, run_us) else { return };
                let m = trial.medians();
                let again = winner == Side::OpenVino && *trials < placement::TRIALS && m.close_call();
                let verdict = match winner {
                    Side::CpuEp => "ORT's CPU kernels compute it".to_string(),
                    Side::OpenVino if again => {
                        format!("too close to call, measured again after {} runs", placement::RETRY_AFTER)
                    }
                    Side::OpenVino => "it stays on OpenVINO".to_string(),
                };
                self.report(format!(
                    "ovep: {}: measured {} us per run cycle on OpenVINO (its own run {} us), {} us on ORT's CPU \
                     kernels: {verdict}",
                    self.name, m.openvino_cycle, m.openvino_run, m.cpu_ep_cycle
                ));
                *p = match winner {
                    Side::CpuEp => Placement::CpuEp(cpu.clone()),
                    Side::OpenVino if again => {
                        Placement::Pausing { cpu: cpu.clone(), shapes: std::mem::take(s), runs: 0, trials: *trials }
                    }
                    Side::OpenVino => Placement::OpenVino,
                };
                drop(p);
                if winner == Side::CpuEp {
                    // Shape-specialized models serve no run any more; the generic one stays
                    // (shared with other sessions and the cache).
                    self.stop_specializing(self.shapes.lock().unwrap_or_else(|e| e.into_inner()));
                    if let Some(hook) = self.on_cpu_ep.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        hook(self.write_ticket());
                    }
                }
            }
            (Placement::Pausing { cpu, shapes, runs, trials }, Timed::Run(_)) if side == Side::OpenVino => {
                *runs += 1;
                if *runs >= placement::RETRY_AFTER {
                    let (cpu, shapes, trials) = (cpu.clone(), std::mem::take(shapes), *trials + 1);
                    *p = Placement::Trial { cpu, trial: Trial::default(), shapes, trials };
                }
            }
            (Placement::Warming { runs }, Timed::Run(us)) if side == Side::OpenVino => {
                if !self.shapes_settled() {
                    return;
                }
                *runs += 1;
                if *runs < placement::WARM_RUNS {
                    return;
                }
                // Checked before anything is copied: a large subgraph costs nothing here.
                let small = us <= placement::SMALL_RUN_US && self.weight_bytes(ctx) <= placement::MAX_WEIGHT_BYTES;
                match small.then(|| self.embedded_onnx(ctx)) {
                    Some(Ok(onnx)) => {
                        *p = Placement::Building;
                        let (me, shapes) = (self.clone(), shapes.to_vec());
                        background::spawn("placement", move || me.build_cpu_session(&onnx, shapes));
                    }
                    _ => *p = Placement::OpenVino,
                }
            }
            _ => {}
        }
    }

    /// A run on `side` succeeded. A trial run is judged by its whole cycle, from its call to the
    /// next one (`trial_cycle`): a call into OpenVINO also slows the ORT nodes around it (cold
    /// caches and threads), which its own time does not show (Silero's encoder: 81 us on
    /// OpenVINO against 75 on ORT's kernels, but the model's run 157 us against 132).
    /// Every run took `us` itself; other runs count by that alone (`after_run`).
    pub(super) fn ran_on(
        self: &Arc<Self>,
        side: Side,
        trial_run: bool,
        call: std::time::Instant,
        us: u64,
        shapes: &[Vec<i64>],
        ctx: &KernelContext,
    ) {
        if trial_run {
            *self.trial_cycle.lock().unwrap_or_else(|e| e.into_inner()) = Some((call, side, us));
        } else {
            self.after_run(shapes, side, Timed::Run(us), ctx);
        }
    }

    /// Background: the CPU session the trial compares OpenVINO with.
    pub(super) fn build_cpu_session(&self, onnx: &[u8], shapes: Vec<Vec<i64>>) {
        let names: Vec<String> = self.graph_inputs.iter().map(|(n, _)| n.clone()).collect();
        let outputs: Vec<String> = self.outputs.iter().map(|b| b.name.to_string_lossy().into_owned()).collect();
        let built = CpuSession::new(onnx, &names, &outputs);
        let Some(placement) = &self.placement else { return };
        let mut p = placement.lock().unwrap_or_else(|e| e.into_inner());
        *p = match built {
            Ok(cpu) if !self.is_settling() => {
                Placement::Trial { cpu: Arc::new(cpu), trial: Trial::default(), shapes, trials: 1 }
            }
            Ok(_) => Placement::OpenVino,
            Err(e) => {
                self.report(format!("ovep: {}: stays on OpenVINO (no CPU session to compare with: {e})", self.name));
                Placement::OpenVino
            }
        };
    }

    /// The CPU session failed a run: OpenVINO computes the subgraph from now on.
    pub(super) fn back_to_openvino(&self, e: &Error) {
        if let Some(placement) = &self.placement {
            *placement.lock().unwrap_or_else(|e| e.into_inner()) = Placement::OpenVino;
        }
        self.report(format!("ovep: {}: back on OpenVINO (ORT's CPU kernels failed a run: {e})", self.name));
    }

    /// Whether the CPU session is being built (the session's end waits for it).
    pub(super) fn placement_building(&self) -> bool {
        self.placement
            .as_ref()
            .is_some_and(|p| matches!(*p.lock().unwrap_or_else(|e| e.into_inner()), Placement::Building))
    }

    /// Call `hook` (once) if measured placement hands this subgraph to ORT's kernels.
    /// The hook gets a write ticket: the session's end waits until it is dropped.
    pub fn when_placed_on_cpu_ep(&self, hook: PlacedHook) {
        *self.on_cpu_ep.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    /// Run on the CPU session: ORT's values in, outputs copied into the fused node's.
    pub(super) fn run_on_cpu(&self, cpu: &CpuSession, ctx: &KernelContext) -> Result<()> {
        let values = self.graph_inputs.iter().map(|(_, k)| ctx.input_value(*k)).collect::<Result<Vec<_>>>()?;
        cpu.run(&values, |j, t| {
            let (dst, bytes) = ctx.output(self.outputs[j].kernel_index, &t.dims)?;
            if bytes != t.bytes {
                bail!("{}: output {j} is {} bytes but ORT allocated {bytes}", self.name, t.bytes);
            }
            if bytes > 0 {
                // SAFETY: `dst` has `bytes` writable bytes (ORT just allocated them).
                unsafe { std::ptr::copy_nonoverlapping(t.data, dst, bytes) };
            }
            Ok(())
        })
    }
}
