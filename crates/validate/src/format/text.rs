//! Text for people: a header, one line per check, then the details of every check that failed,
//! warned or errored (its findings, the guide's reason and the fix), why the others did not
//! apply, then the counts.
//!
//! ```text
//! moat validate: / (live)
//!
//! FAIL   selinux-enforcing        SELinux enabled and enforcing, now and at boot
//! N/A    selinux-virt-booleans    SELinux booleans that affect KVM (guide table 4.1)
//! …
//!
//! FAIL selinux-enforcing (guide 2.2, 2.2.1)
//!   fail  SELinux is not enabled in the running kernel: … [/sys/fs/selinux]
//!   why   The guide's first host task is …
//!   fix   Install the SELinux policy and enable it: …
//!
//! not applicable:
//!   selinux-virt-booleans    SELinux is not enabled, so its booleans have no effect …
//!
//! 15 checks: 6 pass, 3 fail, 2 warn, 1 info, 3 notapplicable, 0 error
//! ```

use std::fmt::Write as _;

use super::Colour;
use crate::check::Status;
use crate::Report;

const WIDTH: usize = 100;

fn label(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Warn => "WARN",
        Status::Info => "INFO",
        Status::NotApplicable => "N/A",
        Status::Error => "ERROR",
    }
}

fn paint(text: &str, status: Status, colour: Colour) -> String {
    if colour == Colour::Never {
        return text.to_owned();
    }
    let code = match status {
        Status::Pass => "32",
        Status::Fail => "1;31",
        Status::Warn => "33",
        Status::Info => "34",
        Status::NotApplicable => "2",
        Status::Error => "1;35",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Word-wraps `text` to `WIDTH` columns, every line after the first indented by `indent`.
fn wrap(text: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut column = indent;
    for word in text.split_whitespace() {
        if column > indent && column + 1 + word.len() > WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            column = indent;
        } else if column > indent {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += word.len();
    }
    out
}

/// The report as text, coloured when `colour` says so.
pub fn render(report: &Report, colour: Colour) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "moat validate: {} ({})\n",
        report.root,
        report.mode.as_str()
    );
    let id_width = report
        .results
        .iter()
        .map(|result| result.id.len())
        .max()
        .unwrap_or(0);
    for result in &report.results {
        let status = format!("{:<6}", label(result.status));
        let _ = writeln!(
            out,
            "{} {:<id_width$}  {}",
            paint(&status, result.status, colour),
            result.id,
            result.title
        );
    }
    let detailed: Vec<_> = report
        .results
        .iter()
        .filter(|result| matches!(result.status, Status::Fail | Status::Warn | Status::Error))
        .collect();
    for result in detailed {
        let _ = writeln!(
            out,
            "\n{} {} (guide {})",
            paint(label(result.status), result.status, colour),
            result.id,
            result.guide
        );
        for finding in result
            .findings
            .iter()
            .filter(|finding| !matches!(finding.status, Status::Pass | Status::NotApplicable))
        {
            let mut line = finding.message.clone();
            if let Some(location) = &finding.location {
                let _ = write!(line, " [{location}]");
            }
            let status = format!("{:<5}", finding.status.as_str());
            let _ = writeln!(
                out,
                "  {} {}",
                paint(&status, finding.status, colour),
                wrap(&line, 8)
            );
        }
        let _ = writeln!(out, "  why   {}", wrap(result.rationale, 8));
        let _ = writeln!(out, "  fix   {}", wrap(result.remediation, 8));
    }
    let not_applicable: Vec<_> = report
        .results
        .iter()
        .filter(|result| result.status == Status::NotApplicable)
        .collect();
    if !not_applicable.is_empty() {
        let _ = writeln!(out, "\nnot applicable:");
        for result in not_applicable {
            let reason = result
                .findings
                .iter()
                .find(|finding| finding.status == Status::NotApplicable)
                .map_or("", |finding| finding.message.as_str());
            let _ = writeln!(
                out,
                "  {:<id_width$}  {}",
                result.id,
                wrap(reason, id_width + 4)
            );
        }
    }
    let summary = report.summary();
    let counts: Vec<String> = Status::ALL
        .iter()
        .map(|status| format!("{} {}", summary.count(*status), status.as_str()))
        .collect();
    let _ = writeln!(out, "\n{} checks: {}", summary.total, counts.join(", "));
    if !report.skipped.is_empty() {
        let _ = writeln!(out, "skipped: {}", report.skipped.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckInfo, CheckResult, Finding, Location};
    use crate::host::Mode;

    fn report() -> Report {
        let info = CheckInfo {
            id: "fstab-uuid-not-label",
            title: "fstab by UUID",
            guide: "2.2",
            rationale: "labels can be forged by guests",
            remediation: "use UUID=",
            live_only: false,
        };
        Report {
            root: "/mnt".to_owned(),
            mode: Mode::Offline,
            results: vec![CheckResult::new(
                &info,
                vec![
                    Finding::at(
                        Status::Fail,
                        "LABEL=data names a file system by label",
                        Location::line("/etc/fstab", 3),
                    ),
                    Finding::new(Status::Pass, "fine elsewhere"),
                ],
            )],
            skipped: vec!["kvm-host-capable"],
        }
    }

    #[test]
    fn plain_text_has_lines_details_and_counts() {
        let text = render(&report(), Colour::Never);
        assert!(text.starts_with("moat validate: /mnt (offline)\n"));
        assert!(text.contains("FAIL   fstab-uuid-not-label  fstab by UUID\n"));
        assert!(text.contains("  fail  LABEL=data names a file system by label [/etc/fstab:3]\n"));
        assert!(!text.contains("fine elsewhere"));
        assert!(text.contains("  why   labels can be forged by guests\n"));
        assert!(text.contains("  fix   use UUID=\n"));
        assert!(text.contains("1 checks: 0 pass, 1 fail, 0 warn"));
        assert!(text.contains("skipped: kvm-host-capable"));
        assert!(!text.contains('\x1b'));
        assert!(!text.contains("not applicable:"));
    }

    #[test]
    fn not_applicable_checks_say_why() {
        let mut report = report();
        report.results[0] = CheckResult::new(
            &CheckInfo {
                id: "kvm-host-capable",
                title: "kvm",
                guide: "-",
                rationale: "r",
                remediation: "m",
                live_only: true,
            },
            vec![Finding::new(
                Status::NotApplicable,
                "needs the running kernel",
            )],
        );
        let text = render(&report, Colour::Never);
        assert!(text.contains("\nnot applicable:\n  kvm-host-capable  needs the running kernel\n"));
    }

    #[test]
    fn colour_only_when_asked() {
        let text = render(&report(), Colour::Always);
        assert!(text.contains("\x1b[1;31mFAIL  \x1b[0m fstab-uuid-not-label"));
    }

    #[test]
    fn long_text_wraps_with_indent() {
        let long = "word ".repeat(40);
        let wrapped = wrap(&long, 8);
        assert!(wrapped.lines().count() > 1);
        assert!(wrapped.lines().all(|line| line.len() <= WIDTH));
        assert!(wrapped
            .lines()
            .skip(1)
            .all(|line| line.starts_with("        word")));
    }
}
