//! A small least-recently-used map from input shapes to shape-specialized compiled models,
//! and the judgement of whether such specializations pay for themselves.

/// Bounded LRU keyed by the input shapes of one run. Linear scan: a handful of entries.
pub struct ShapeLru<V> {
    capacity: usize,
    /// Most recently used last.
    entries: Vec<(Vec<Vec<i64>>, V)>,
}

impl<V: Clone> ShapeLru<V> {
    pub fn new(capacity: usize) -> Self {
        ShapeLru { capacity: capacity.max(1), entries: Vec::new() }
    }

    pub fn get(&mut self, key: &[Vec<i64>]) -> Option<V> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        let e = self.entries.remove(pos);
        let v = e.1.clone();
        self.entries.push(e);
        Some(v)
    }

    /// Insert, evicting the least recently used entry when full.
    pub fn insert(&mut self, key: Vec<Vec<i64>>, value: V) {
        self.entries.retain(|(k, _)| *k != key);
        if self.entries.len() >= self.capacity {
            self.entries.remove(0);
        }
        self.entries.push((key, value));
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Whether static, shape-specialized compiles pay for a model. A specialization costs a full
/// compile on a background core and a compiled model's memory; it gains little where
/// OpenVINO's dynamic kernels are nearly as fast (measured on PP-OCRv4 rec: 9.2 ms static
/// against 9.9 ms dynamic, while 100 shapes meant 100 compiles competing with the runs). So
/// the first specialized shape is a trial: its best run against the generic model's best on
/// the same shape decides, once, whether the model gets more. A trial whose shape does not
/// come back within `IDLE_RUNS` runs at other shapes is judged not to pay either: the shapes
/// do not recur, and the trial's compiled model would otherwise stay in memory for good.
#[derive(Debug, Default)]
pub struct Payoff {
    verdict: Option<bool>,
    runs: u32,
    best_us: u64,
    /// Runs at other shapes since the trial last ran.
    idle: u32,
}

impl Payoff {
    /// Runs of the trial shape on its specialized model before judging (best of them).
    pub const RUNS: u32 = 5;
    /// The specialized model must take at most this share of the generic model's time.
    const GAIN: f64 = 0.85;

    /// Runs at other shapes after which an unjudged trial is given up.
    pub const IDLE_RUNS: u32 = 32;

    /// Runs recorded on the trial so far.
    pub fn runs(&self) -> u32 {
        self.runs
    }

    /// None until judged.
    pub fn verdict(&self) -> Option<bool> {
        self.verdict
    }

    /// No trial: the model's weights leave no room for a specialized model.
    pub fn decline(&mut self) {
        self.verdict.get_or_insert(false);
    }

    /// A run at a shape other than the trial's, while a trial is waiting to be judged.
    /// Returns the verdict when this run reaches it (the trial's shape did not come back).
    pub fn idle_run(&mut self) -> Option<bool> {
        if self.verdict.is_some() {
            return None;
        }
        self.idle += 1;
        if self.idle < Self::IDLE_RUNS {
            return None;
        }
        self.verdict = Some(false);
        self.verdict
    }

    /// A run on a specialized model took `us`; `generic_us` is the generic model's best on that
    /// shape (None if it was never timed: then the specialization is kept). Returns the
    /// verdict when this run reaches it.
    pub fn record(&mut self, us: u64, generic_us: Option<u64>) -> Option<bool> {
        if self.verdict.is_some() {
            return None;
        }
        self.runs += 1;
        self.idle = 0;
        self.best_us = if self.runs == 1 { us } else { self.best_us.min(us) };
        if self.runs < Self::RUNS {
            return None;
        }
        let pays = generic_us.is_none_or(|g| (self.best_us as f64) <= Self::GAIN * g as f64);
        self.verdict = Some(pays);
        self.verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut c = ShapeLru::new(2);
        c.insert(vec![vec![1]], 'a');
        c.insert(vec![vec![2]], 'b');
        assert_eq!(c.get(&[vec![1]]), Some('a')); // 1 is now the most recent
        c.insert(vec![vec![3]], 'c'); // evicts 2
        assert_eq!(c.get(&[vec![2]]), None);
        assert_eq!(c.get(&[vec![1]]), Some('a'));
        assert_eq!(c.get(&[vec![3]]), Some('c'));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn a_specialization_that_gains_little_is_judged_not_to_pay() {
        let mut p = Payoff::default();
        for k in 1..Payoff::RUNS {
            assert_eq!(p.record(950 - u64::from(k), Some(1000)), None);
            assert_eq!(p.runs(), k);
        }
        assert_eq!(p.record(920, Some(1000)), Some(false)); // best 920 > 0.85 * 1000
        assert_eq!(p.verdict(), Some(false));
        assert_eq!(p.record(100, Some(1000)), None, "judged once");

        let mut p = Payoff::default();
        for k in 0..Payoff::RUNS {
            p.record(if k == 1 { 700 } else { 900 }, Some(1000)); // best 700 <= 850
        }
        assert_eq!(p.verdict(), Some(true));
        let mut p = Payoff::default();
        for _ in 0..Payoff::RUNS {
            p.record(500, None);
        }
        assert_eq!(p.verdict(), Some(true), "no generic timing: kept");
    }

    #[test]
    fn a_trial_whose_shape_does_not_come_back_is_judged_not_to_pay() {
        let mut p = Payoff::default();
        for _ in 1..Payoff::IDLE_RUNS {
            assert_eq!(p.idle_run(), None);
        }
        p.record(500, Some(1000)); // the trial's shape came back: idle count starts again
        for _ in 1..Payoff::IDLE_RUNS {
            assert_eq!(p.idle_run(), None);
        }
        assert_eq!(p.idle_run(), Some(false));
        assert_eq!(p.verdict(), Some(false));
        assert_eq!(p.record(100, Some(1000)), None, "judged once");
    }
}
