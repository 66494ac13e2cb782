//! Measured placement: whether a small subgraph runs faster on OpenVINO or on ORT's own CPU
//! kernels, judged on the user's own runs.
//!
//! A call into OpenVINO has a fixed cost that ORT's kernels do not pay, and it grows when the
//! call sits between ORT's nodes (measured on Silero VAD's encoder, 83 ONNX nodes, 18 us of
//! kernel time: OpenVINO 33 us per call back to back, 57-61 us between ORT runs of the rest of
//! the model, while ORT's CPU EP ran the same nodes in about 25 us inside the model). Which side wins depends on the
//! machine and the inputs, so it is measured rather than guessed: once a subgraph is in steady
//! state and small, ovep builds a CPU-EP session of it (`ort::cpu_session`), warms it, and
//! alternates the two on the same input shapes, each run timed over its whole cycle (from its
//! call to the next: what it costs the ORT nodes around it counts too); the CPU EP takes the
//! subgraph over only when clearly faster. GetCapability's claim is unchanged; only who
//! computes the fused node is, and the compiled-model cache keeps the verdict for later sessions.
//!
//! "Clearly" is measured against the subgraph's own cost, not the cycle's: a cycle also holds
//! whatever the host does between runs (ORT's other nodes, the application's own work), which
//! the two sides share. In a loop that compared every Silero chunk with a second session, the
//! cycles were 660 against 611 us for a 60-80 us subgraph: a 10 % margin on the cycle kept
//! OpenVINO although ORT's kernels saved most of the subgraph's time.

/// Runs each side gets in the trial (cycles are noisier than runs: they hold the host's work).
pub const RUNS: usize = 15;

/// Untimed runs of a new CPU session before the trial: its first runs plan memory and fill its
/// arena (a trial that timed them read 126 us against 97 on OpenVINO for Silero's encoder).
pub const CPU_WARM_RUNS: usize = 3;

/// Steady OpenVINO runs before a trial starts (the first runs make kernels and caches).
pub const WARM_RUNS: u32 = 8;

/// A subgraph whose OpenVINO run takes longer than this is not tried: its call overhead is
/// small against its work, where OpenVINO's kernels win, and the CPU session is one thread.
pub const SMALL_RUN_US: u64 = 2_000;

/// Weights the CPU session may copy (it holds them inside its model).
pub const MAX_WEIGHT_BYTES: u64 = 16 << 20;

/// Trials a subgraph may get in all. A trial that keeps OpenVINO although ORT's kernels were
/// faster, only not by the margin (a close call), is run again after `RETRY_AFTER` runs: one
/// noisy moment of the machine should not settle it for good (seen once in a full test run).
pub const TRIALS: u32 = 3;

/// OpenVINO runs between a close call and the next trial.
pub const RETRY_AFTER: u32 = 48;

/// Who computes the next trial run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    OpenVino,
    CpuEp,
}

/// One subgraph's trial: times of both sides on the same input shapes, taken alternately so
/// that a noisy moment of the machine weighs on both.
#[derive(Debug, Default)]
pub struct Trial {
    /// Cycle times of each side's trial runs.
    openvino: Vec<u64>,
    cpu_ep: Vec<u64>,
    /// OpenVINO's own run times in those cycles: the cost the margin is taken of.
    openvino_runs: Vec<u64>,
    cpu_warmed: usize,
}

impl Trial {
    pub fn next(&self) -> Side {
        if self.cpu_warmed < CPU_WARM_RUNS || self.cpu_ep.len() < self.openvino.len() {
            Side::CpuEp
        } else {
            Side::OpenVino
        }
    }

    /// Record a run of `side` whose cycle took `cycle_us`, its own run `run_us`; the winner
    /// once both sides have had their runs.
    pub fn record(&mut self, side: Side, cycle_us: u64, run_us: u64) -> Option<Side> {
        match side {
            Side::CpuEp if self.cpu_warmed < CPU_WARM_RUNS => self.cpu_warmed += 1,
            Side::OpenVino => {
                self.openvino.push(cycle_us);
                self.openvino_runs.push(run_us);
            }
            Side::CpuEp => self.cpu_ep.push(cycle_us),
        }
        if self.openvino.len() < RUNS || self.cpu_ep.len() < RUNS {
            return None;
        }
        // Medians, and a margin of 10 % of what the subgraph costs on OpenVINO: moving it on a
        // coin toss would only add noise. Where nothing happens between runs, cycle and run are
        // one, and this is 10 % of the cycle.
        let m = self.medians();
        let saved = m.openvino_cycle.saturating_sub(m.cpu_ep_cycle);
        Some(if saved > 0 && saved * 10 >= m.openvino_run { Side::CpuEp } else { Side::OpenVino })
    }

    /// The medians in microseconds, for the verdict and the log.
    pub fn medians(&mut self) -> Medians {
        Medians {
            openvino_cycle: median(&mut self.openvino),
            openvino_run: median(&mut self.openvino_runs),
            cpu_ep_cycle: median(&mut self.cpu_ep),
        }
    }
}

/// A trial's medians, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Medians {
    pub openvino_cycle: u64,
    pub openvino_run: u64,
    pub cpu_ep_cycle: u64,
}

impl Medians {
    /// Whether ORT's kernels were faster, if not by the margin (of a trial that kept OpenVINO).
    pub fn close_call(&self) -> bool {
        self.cpu_ep_cycle < self.openvino_cycle
    }
}

fn median(v: &mut [u64]) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed the trial runs of the given cycle times (OpenVINO's run taking `ov_run` of its
    /// cycle) until it decides (a fresh trial decides on its last run: CPU_WARM_RUNS + 2 * RUNS).
    fn run_with(trial: &mut Trial, ov: u64, ov_run: u64, cpu: u64) -> Option<Side> {
        for _ in 0..2 * RUNS + CPU_WARM_RUNS {
            let side = trial.next();
            let us = if side == Side::OpenVino { ov } else { cpu };
            if let Some(verdict) = trial.record(side, us, ov_run.min(us)) {
                return Some(verdict);
            }
        }
        None
    }

    /// As `run_with`, nothing happening between runs (cycle = run).
    fn run(trial: &mut Trial, ov: u64, cpu: u64) -> Option<Side> {
        run_with(trial, ov, ov, cpu)
    }

    #[test]
    fn the_cpu_session_warms_up_then_sides_alternate() {
        let mut t = Trial::default();
        let mut seen = Vec::new();
        for _ in 0..CPU_WARM_RUNS + 4 {
            let s = t.next();
            seen.push(s);
            t.record(s, 1, 1);
        }
        let mut want = vec![Side::CpuEp; CPU_WARM_RUNS];
        want.extend([Side::OpenVino, Side::CpuEp, Side::OpenVino, Side::CpuEp]);
        assert_eq!(seen, want);
    }

    #[test]
    fn warm_up_runs_are_not_timed() {
        let mut t = Trial::default();
        for _ in 0..CPU_WARM_RUNS {
            assert_eq!(t.record(Side::CpuEp, 1_000_000, 1_000_000), None);
        }
        assert_eq!(run(&mut t, 100, 50), Some(Side::CpuEp), "the slow first runs do not count");
    }

    #[test]
    fn the_cpu_ep_wins_only_when_clearly_faster() {
        assert_eq!(run(&mut Trial::default(), 160, 100), Some(Side::CpuEp));
        let mut t = Trial::default();
        for _ in 0..CPU_WARM_RUNS + 2 * RUNS - 1 {
            let side = t.next();
            assert_eq!(t.record(side, 1, 1), None, "no verdict before the last run");
        }
        assert_eq!(run(&mut Trial::default(), 100, 95), Some(Side::OpenVino), "5 % is noise");
        assert_eq!(run(&mut Trial::default(), 100, 90), Some(Side::CpuEp), "10 % is enough");
        assert_eq!(run(&mut Trial::default(), 100, 300), Some(Side::OpenVino));
        assert_eq!(run(&mut Trial::default(), 100, 100), Some(Side::OpenVino), "a tie stays");
    }

    #[test]
    fn the_margin_is_taken_of_the_subgraphs_cost_not_the_hosts_work_between_runs() {
        // Silero's encoder in a loop that also ran a second session per chunk: 660 us cycles on
        // OpenVINO (70 us of them its own run) against 611 on ORT's kernels.
        assert_eq!(run_with(&mut Trial::default(), 660, 70, 611), Some(Side::CpuEp));
        assert_eq!(run_with(&mut Trial::default(), 660, 70, 655), Some(Side::OpenVino), "5 us is noise");
    }

    #[test]
    fn a_close_call_is_told_from_a_clear_one() {
        let mut t = Trial::default();
        assert_eq!(run(&mut t, 100, 95), Some(Side::OpenVino));
        assert!(t.medians().close_call(), "ORT's kernels were faster, under the margin");
        let mut t = Trial::default();
        assert_eq!(run(&mut t, 100, 120), Some(Side::OpenVino));
        assert!(!t.medians().close_call(), "OpenVINO was faster");
    }

    #[test]
    fn outliers_do_not_decide() {
        let mut t = Trial::default();
        for _ in 0..CPU_WARM_RUNS {
            t.record(Side::CpuEp, 0, 0);
        }
        let mut verdict = None;
        for i in 0..2 * RUNS {
            let side = t.next();
            // OpenVINO is faster except for two stalls; the CPU EP has one lucky run.
            let us = match side {
                Side::OpenVino if i < 4 => 10_000,
                Side::OpenVino => 100,
                Side::CpuEp if i == 1 => 10,
                Side::CpuEp => 120,
            };
            verdict = t.record(side, us, us);
        }
        assert_eq!(verdict, Some(Side::OpenVino));
        assert_eq!(t.medians(), Medians { openvino_cycle: 100, openvino_run: 100, cpu_ep_cycle: 120 });
    }
}
