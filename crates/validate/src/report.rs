//! A run's [`Report`]: the results in check order, what was skipped, the counts per status
//! and the exit status they lead to.

use serde::Serialize;

use crate::check::{CheckResult, Status};
use crate::host::Mode;

/// The lowest status that makes `moat validate` exit with 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOn {
    /// `warn` or `fail`.
    Warn,
    /// `fail` only (the default).
    #[default]
    Fail,
}

impl FailOn {
    /// Whether a result with `status` reaches this level.
    pub fn reached_by(self, status: Status) -> bool {
        match self {
            FailOn::Warn => matches!(status, Status::Warn | Status::Fail),
            FailOn::Fail => status == Status::Fail,
        }
    }
}

/// How many results have each status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// Checks run.
    pub total: usize,
    /// `pass` results.
    pub pass: usize,
    /// `fail` results.
    pub fail: usize,
    /// `warn` results.
    pub warn: usize,
    /// `info` results.
    pub info: usize,
    /// `notapplicable` results.
    pub notapplicable: usize,
    /// `error` results.
    pub error: usize,
}

impl Summary {
    /// The count for `status`.
    pub fn count(&self, status: Status) -> usize {
        match status {
            Status::Pass => self.pass,
            Status::Fail => self.fail,
            Status::Warn => self.warn,
            Status::Info => self.info,
            Status::NotApplicable => self.notapplicable,
            Status::Error => self.error,
        }
    }
}

/// What one run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The root that was checked, as given (`/` on the live host).
    pub root: String,
    /// Live or offline.
    pub mode: Mode,
    /// One result per check run, in check order.
    pub results: Vec<CheckResult>,
    /// Ids of the checks left out by `--only`/`--skip`.
    pub skipped: Vec<&'static str>,
}

impl Report {
    /// Counts per status.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            total: self.results.len(),
            ..Summary::default()
        };
        for result in &self.results {
            let slot = match result.status {
                Status::Pass => &mut summary.pass,
                Status::Fail => &mut summary.fail,
                Status::Warn => &mut summary.warn,
                Status::Info => &mut summary.info,
                Status::NotApplicable => &mut summary.notapplicable,
                Status::Error => &mut summary.error,
            };
            *slot += 1;
        }
        summary
    }

    /// The exit status: 2 when a check could not be carried out, 1 when a result reaches
    /// `fail_on`, else 0.
    pub fn exit_code(&self, fail_on: FailOn) -> u8 {
        if self
            .results
            .iter()
            .any(|result| result.status == Status::Error)
        {
            2
        } else if self
            .results
            .iter()
            .any(|result| fail_on.reached_by(result.status))
        {
            1
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckInfo, Finding};

    fn result(status: Status) -> CheckResult {
        let info = CheckInfo {
            id: "x",
            title: "x",
            guide: "-",
            rationale: "r",
            remediation: "m",
            live_only: false,
        };
        CheckResult::new(&info, vec![Finding::new(status, "seen")])
    }

    fn report(statuses: &[Status]) -> Report {
        Report {
            root: "/".to_owned(),
            mode: Mode::Live,
            results: statuses.iter().map(|status| result(*status)).collect(),
            skipped: Vec::new(),
        }
    }

    #[test]
    fn exit_codes_follow_fail_on() {
        assert_eq!(
            report(&[Status::Pass, Status::Info]).exit_code(FailOn::Fail),
            0
        );
        assert_eq!(report(&[Status::Warn]).exit_code(FailOn::Fail), 0);
        assert_eq!(report(&[Status::Warn]).exit_code(FailOn::Warn), 1);
        assert_eq!(report(&[Status::Fail]).exit_code(FailOn::Fail), 1);
        assert_eq!(
            report(&[Status::Fail, Status::Error]).exit_code(FailOn::Fail),
            2
        );
        assert_eq!(report(&[Status::NotApplicable]).exit_code(FailOn::Warn), 0);
    }

    #[test]
    fn summary_counts_each_status() {
        let summary = report(&[Status::Pass, Status::Pass, Status::Fail]).summary();
        assert_eq!((summary.total, summary.pass, summary.fail), (3, 2, 1));
        assert_eq!(summary.count(Status::Warn), 0);
    }
}
