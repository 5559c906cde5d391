//! [`Summary`]: the values of one metric over one bucket (or a whole
//! period), reduced to any [`Agg`].

use super::metric::Agg;

/// Accumulates one metric's interval values.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Σ value × interval length.
    weighted: f64,
    /// Σ interval length, ms.
    weight: f64,
    /// How many values.
    count: usize,
    min: f64,
    max: f64,
    last: f64,
    /// Every value, when a percentile is asked for.
    values: Option<Vec<f64>>,
}

impl Default for Summary {
    fn default() -> Summary {
        Summary::new(false)
    }
}

impl Summary {
    /// An empty summary; `keep_values` when percentiles will be asked.
    pub fn new(keep_values: bool) -> Summary {
        Summary {
            weighted: 0.0,
            weight: 0.0,
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            last: 0.0,
            values: keep_values.then(Vec::new),
        }
    }

    /// Adds one interval's value; `weight_ms` is the interval's length.
    #[inline]
    pub fn push(&mut self, value: f64, weight_ms: f64) {
        self.weighted += value * weight_ms;
        self.weight += weight_ms;
        self.count += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.last = value;
        if let Some(values) = &mut self.values {
            values.push(value);
        }
    }

    /// Adds the present values of `values`, each weighted by the length of
    /// its interval in `weights_ms` (the same length): [`Summary::push`] of
    /// each, accumulated in registers.
    #[inline]
    pub fn push_all(&mut self, values: &[Option<f64>], weights_ms: &[f64]) {
        let (mut weighted, mut weight, mut count) = (0.0, 0.0, 0);
        let (mut min, mut max, mut last) = (self.min, self.max, self.last);
        for (value, &dt) in values.iter().zip(weights_ms) {
            if let Some(v) = *value {
                weighted += v * dt;
                weight += dt;
                count += 1;
                // Plain comparisons: no value is NaN (the rate functions
                // never give one), so f64::min's NaN rules are not needed.
                if v < min {
                    min = v;
                }
                if v > max {
                    max = v;
                }
                last = v;
            }
        }
        if let Some(kept) = &mut self.values {
            kept.extend(values.iter().flatten());
        }
        self.weighted += weighted;
        self.weight += weight;
        self.count += count;
        (self.min, self.max, self.last) = (min, max, last);
    }

    /// Empties the summary, keeping its buffer.
    pub fn clear(&mut self) {
        let values = self.values.take().map(|mut v| {
            v.clear();
            v
        });
        *self = Summary { values, ..Summary::new(false) };
    }

    /// Whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The summary by `agg`; `None` when empty (an empty cell, never a zero).
    /// Percentiles need `keep_values` (else `None`) and reorder the values.
    pub fn get(&mut self, agg: Agg) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        match agg {
            Agg::Avg => (self.weight > 0.0).then(|| self.weighted / self.weight),
            Agg::Min => Some(self.min),
            Agg::Max => Some(self.max),
            Agg::Last => Some(self.last),
            // Every value the same (a limit, an idle counter): no need to look.
            Agg::Percentile(_) if self.min == self.max && self.values.is_some() => Some(self.min),
            Agg::Percentile(p) => {
                let values = self.values.as_mut().filter(|v| !v.is_empty())?;
                let rank = nearest_rank(values.len(), p);
                Some(*values.select_nth_unstable_by(rank, f64::total_cmp).1)
            }
        }
    }
}

/// The 0-based index of the `p`th percentile of `n` sorted values by the
/// nearest-rank method: the smallest value with at least p % of the values
/// at or below it.
fn nearest_rank(n: usize, p: u8) -> usize {
    let rank = (n * usize::from(p)).div_ceil(100);
    rank.clamp(1, n) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_are_weighted_by_interval_length() {
        let mut s = Summary::new(false);
        s.push(10.0, 1000.0);
        s.push(40.0, 3000.0);
        assert_eq!(s.get(Agg::Avg), Some(32.5));
        assert_eq!(s.get(Agg::Min), Some(10.0));
        assert_eq!(s.get(Agg::Max), Some(40.0));
        assert_eq!(s.get(Agg::Last), Some(40.0));
        assert_eq!(s.get(Agg::Percentile(95)), None, "values were not kept");
    }

    #[test]
    fn adding_many_is_adding_each() {
        let values = [Some(3.0), None, Some(1.0), Some(7.5)];
        let weights = [1000.0, 500.0, 2000.0, 250.0];
        let mut each = Summary::new(true);
        for (v, w) in values.iter().zip(weights) {
            if let Some(v) = v {
                each.push(*v, w);
            }
        }
        let mut all = Summary::new(true);
        all.push(2.0, 100.0);
        all.clear();
        all.push_all(&values, &weights);
        for agg in [Agg::Avg, Agg::Min, Agg::Max, Agg::Last, Agg::Percentile(50)] {
            assert_eq!(all.get(agg), each.get(agg), "{agg}");
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut s = Summary::new(true);
        for v in (1..=20).rev() {
            s.push(f64::from(v), 1.0);
        }
        assert_eq!(s.get(Agg::Percentile(95)), Some(19.0));
        assert_eq!(s.get(Agg::Percentile(50)), Some(10.0));
        assert_eq!(s.get(Agg::Percentile(1)), Some(1.0));
        assert_eq!(s.get(Agg::Percentile(99)), Some(20.0));
    }

    #[test]
    fn an_empty_summary_has_no_value() {
        let mut s = Summary::new(true);
        assert!(s.is_empty());
        for agg in [Agg::Avg, Agg::Min, Agg::Max, Agg::Last, Agg::Percentile(95)] {
            assert_eq!(s.get(agg), None);
        }
    }
}
