//! The rise/fall decision of one check: pure, no clock.

use super::config::Rule;

/// The recent results of one check and whether it counts as up.
///
/// ```
/// use cue::director::monitor::Monitor;
/// use cue::director::Rule;
/// let mut m = Monitor::new(Rule { window: 3, rise: 3, fall: 2 }, true);
/// assert_eq!(m.record(false), None, "2 of 3 still pass");
/// assert_eq!(m.record(false), Some(false), "1 of 3: down");
/// m.record(true);
/// m.record(true);
/// assert_eq!(m.record(true), Some(true), "3 of 3: up");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    rule: Rule,
    /// Bit i is the result i probes ago (1 = passed).
    history: u32,
    /// Results recorded, at most the window.
    count: u8,
    up: bool,
}

impl Monitor {
    /// A monitor starting up (as if the whole window had passed) or down
    /// (with no history: it needs `rise` passes to come up).
    pub fn new(rule: Rule, up: bool) -> Monitor {
        Monitor {
            rule,
            history: if up { mask(rule.window) } else { 0 },
            count: if up { rule.window } else { 0 },
            up,
        }
    }

    /// Whether the check counts as up.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Passes within the window.
    pub fn passes(&self) -> u32 {
        (self.history & mask(self.rule.window)).count_ones()
    }

    /// Whether a whole window of results has been seen since the monitor
    /// started (or started up).
    pub fn settled(&self) -> bool {
        self.count >= self.rule.window
    }

    /// Records a result; returns the new state when it changed.
    pub fn record(&mut self, passed: bool) -> Option<bool> {
        self.history = (self.history << 1) | passed as u32;
        self.count = self.count.saturating_add(1).min(self.rule.window);
        let passes = self.passes();
        let was = self.up;
        if self.up && passes < self.rule.fall as u32 {
            self.up = false;
        } else if !self.up && passes >= self.rule.rise as u32 {
            self.up = true;
        }
        (self.up != was).then_some(self.up)
    }
}

fn mask(window: u8) -> u32 {
    if window >= 32 {
        u32::MAX
    } else {
        (1u32 << window) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_rule_goes_down_below_four_of_five() {
        let mut m = Monitor::new(Rule::default(), true);
        assert_eq!(m.record(false), None, "4 of 5 still up");
        assert_eq!(m.record(false), Some(false), "3 of 5: down");
        assert!(!m.is_up());
    }

    #[test]
    fn original_rule_comes_up_at_five_of_five() {
        let mut m = Monitor::new(Rule::default(), false);
        for _ in 0..4 {
            assert_eq!(m.record(true), None);
        }
        assert!(!m.settled());
        assert_eq!(m.record(true), Some(true));
        assert!(m.settled());
        // One failure does not take it down; a second one does.
        assert_eq!(m.record(false), None);
        assert_eq!(m.record(false), Some(false));
        // Down again: a single pass among failures is not enough.
        assert_eq!(m.record(true), None);
        for _ in 0..3 {
            assert_eq!(m.record(true), None);
        }
        assert_eq!(m.record(true), Some(true));
    }

    #[test]
    fn flapping_stays_down() {
        let mut m = Monitor::new(Rule::default(), false);
        for i in 0..20 {
            assert_eq!(m.record(i % 2 == 0), None);
        }
    }

    #[test]
    fn fast_rule() {
        let rule = Rule {
            window: 2,
            rise: 1,
            fall: 1,
        };
        let mut m = Monitor::new(rule, false);
        assert_eq!(m.record(true), Some(true));
        assert_eq!(m.record(false), None);
        assert_eq!(m.record(false), Some(false));
        let wide = Rule {
            window: 32,
            rise: 32,
            fall: 1,
        };
        let mut m = Monitor::new(wide, true);
        for _ in 0..31 {
            assert_eq!(m.record(false), None);
        }
        assert_eq!(m.record(false), Some(false));
    }
}
