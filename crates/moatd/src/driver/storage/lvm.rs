//! The LVM tools, run with explicit argv (never a shell), and their reports parsed.
//!
//! Every command is `lvm <subcommand> …` with `LC_ALL=C`, stdin closed and LVM's file
//! descriptor warnings off; a failure is an [`LvmError`] carrying the tool's stderr. Reports are
//! read as JSON (`--reportformat json --units b --nosuffix`), where every field is a string:
//!
//! ```text
//! {"report": [{"vg": [{"vg_name": "vg0", "vg_size": "205520896", "vg_free": "201326592",
//!                      "pv_name": "/dev/loop0"}]}]}
//! ```
//!
//! [`check_lvm_name`] holds LVM's rules for volume group and logical volume names (lvm(8),
//! "VALID NAMES"); names are checked before they reach an argv, so none can start with `-` and
//! be read as an option, or hold a `/` and name something else. [`Lvm::probe_signature`] asks
//! `blkid` whether a device already holds a file system, partition table or LVM label.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

/// Longest volume group or logical volume name LVM accepts.
pub const LVM_NAME_MAX: usize = 127;

/// LV name parts LVM reserves for its own sub-volumes.
const RESERVED_PARTS: &[&str] = &[
    "_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_wcorig", "_mlog", "_mimage", "_pmspare",
    "_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin",
];

/// Why an LVM command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LvmError {
    /// The program could not be started.
    #[error("cannot run {program} to {step} {subject}")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// What it was run for.
        step: &'static str,
        /// The volume group, volume or device.
        subject: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The command ran and failed.
    #[error("{command} failed to {step} {subject}: {stderr}")]
    Failed {
        /// The LVM subcommand (`lvcreate`).
        command: &'static str,
        /// What it was run for.
        step: &'static str,
        /// The volume group, volume or device.
        subject: String,
        /// What the tool said (at most 1 KiB).
        stderr: String,
    },
    /// The report could not be read.
    #[error("cannot read the report of {command}: {reason}")]
    Report {
        /// The LVM subcommand.
        command: &'static str,
        /// What was wrong.
        reason: String,
    },
}

/// A volume group as `vgs` reports it (sizes in bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VgFacts {
    /// Name.
    pub name: String,
    /// Size.
    pub size: u64,
    /// Free bytes.
    pub free: u64,
    /// Its physical volumes' devices.
    pub devices: Vec<String>,
}

/// A physical volume as `pvs` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvFacts {
    /// The device.
    pub device: String,
    /// Its volume group; empty when it belongs to none.
    pub vg: String,
}

/// A logical volume as `lvs` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvFacts {
    /// Name.
    pub name: String,
    /// LVM's UUID: the volume's key, as in libvirt.
    pub uuid: String,
    /// Size in bytes.
    pub size: u64,
    /// `lv_attr` (`-wi-a-----`): the first letter is the type, the fifth `a` when active.
    pub attr: String,
}

impl LvFacts {
    /// Whether this is a plain volume a guest can use (not a thin pool, snapshot origin's
    /// hidden part, mirror log …): LVM marks those with a type letter other than `-`/`o`/`s`
    /// or hides them by name.
    pub fn is_plain(&self) -> bool {
        !self.name.starts_with('[') && matches!(self.attr.chars().next(), Some('-' | 'o' | 's'))
    }
}

/// Refuses a name LVM would refuse or misread: LVM's character set (`A-Za-z0-9+_.-`), no
/// leading `-`, not `.`/`..`, at most [`LVM_NAME_MAX`] bytes; logical volume names also not
/// `snapshot`/`pvmove…` nor holding a reserved sub-volume part.
pub fn check_lvm_name(what: &str, name: &str, logical_volume: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} name is empty"));
    }
    if name.len() > LVM_NAME_MAX {
        return Err(format!(
            "{what} name is longer than {LVM_NAME_MAX} characters"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("{what} name '{name}' is not allowed"));
    }
    if name.starts_with('-') {
        return Err(format!("{what} name '{name}' starts with '-'"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '_' | '.' | '-')))
    {
        return Err(format!(
            "{what} name '{}' contains '{}': LVM allows only letters, digits and '+_.-'",
            name.escape_debug(),
            bad.escape_debug()
        ));
    }
    if logical_volume {
        if name == "snapshot" || name.starts_with("pvmove") {
            return Err(format!("{what} name '{name}' is reserved by LVM"));
        }
        if let Some(part) = RESERVED_PARTS.iter().find(|part| name.contains(*part)) {
            return Err(format!(
                "{what} name '{name}' contains '{part}', which LVM reserves"
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct Report<T> {
    report: Vec<T>,
}

#[derive(Deserialize)]
struct VgReport {
    #[serde(default)]
    vg: Vec<VgRow>,
}

#[derive(Deserialize)]
struct VgRow {
    vg_name: String,
    vg_size: String,
    vg_free: String,
    #[serde(default)]
    pv_name: String,
}

#[derive(Deserialize)]
struct PvReport {
    #[serde(default)]
    pv: Vec<PvRow>,
}

#[derive(Deserialize)]
struct PvRow {
    pv_name: String,
    vg_name: String,
}

#[derive(Deserialize)]
struct LvReport {
    #[serde(default)]
    lv: Vec<LvRow>,
}

#[derive(Deserialize)]
struct LvRow {
    lv_name: String,
    lv_uuid: String,
    lv_size: String,
    lv_attr: String,
}

fn bytes(command: &'static str, field: &str, text: &str) -> Result<u64, LvmError> {
    text.trim().parse().map_err(|_| LvmError::Report {
        command,
        reason: format!("{field} '{text}' is not a number of bytes"),
    })
}

fn rows<T: for<'de> Deserialize<'de>>(
    command: &'static str,
    json: &str,
) -> Result<Vec<T>, LvmError> {
    serde_json::from_str::<Report<T>>(json)
        .map(|r| r.report)
        .map_err(|err| LvmError::Report {
            command,
            reason: err.to_string(),
        })
}

/// Volume groups from a `vgs` JSON report with `pv_name` (one row per physical volume).
pub fn parse_vgs(json: &str) -> Result<Vec<VgFacts>, LvmError> {
    let mut out: Vec<VgFacts> = Vec::new();
    for report in rows::<VgReport>("vgs", json)? {
        for row in report.vg {
            let index = match out.iter().position(|vg| vg.name == row.vg_name) {
                Some(index) => index,
                None => {
                    out.push(VgFacts {
                        size: bytes("vgs", "vg_size", &row.vg_size)?,
                        free: bytes("vgs", "vg_free", &row.vg_free)?,
                        name: row.vg_name,
                        devices: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            if !row.pv_name.is_empty() {
                out[index].devices.push(row.pv_name);
            }
        }
    }
    Ok(out)
}

/// Physical volumes from a `pvs` JSON report.
pub fn parse_pvs(json: &str) -> Result<Vec<PvFacts>, LvmError> {
    Ok(rows::<PvReport>("pvs", json)?
        .into_iter()
        .flat_map(|r| r.pv)
        .map(|row| PvFacts {
            device: row.pv_name,
            vg: row.vg_name,
        })
        .collect())
}

/// Logical volumes from an `lvs` JSON report.
pub fn parse_lvs(json: &str) -> Result<Vec<LvFacts>, LvmError> {
    let mut out = Vec::new();
    for report in rows::<LvReport>("lvs", json)? {
        for row in report.lv {
            out.push(LvFacts {
                size: bytes("lvs", "lv_size", &row.lv_size)?,
                name: row.lv_name,
                uuid: row.lv_uuid,
                attr: row.lv_attr,
            });
        }
    }
    Ok(out)
}

/// What `blkid -p -o export` found on a device: its `TYPE` (`ext4`, `LVM2_member`) or
/// `PTTYPE` (`dos`, `gpt`).
pub fn parse_blkid(export: &str) -> Option<String> {
    let mut found = None;
    for line in export.lines() {
        if let Some(kind) = line.strip_prefix("TYPE=") {
            return Some(kind.to_owned());
        }
        if let Some(kind) = line.strip_prefix("PTTYPE=") {
            found = Some(kind.to_owned());
        }
    }
    found
}

/// Runs the LVM tools and `blkid`.
#[derive(Debug, Clone)]
pub struct Lvm {
    lvm: PathBuf,
    blkid: PathBuf,
}

impl Default for Lvm {
    fn default() -> Self {
        Self {
            lvm: PathBuf::from("lvm"),
            blkid: PathBuf::from("blkid"),
        }
    }
}

/// The outcome of one run.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Lvm {
    fn spawn(
        &self,
        program: &Path,
        step: &'static str,
        subject: &str,
        args: &[&OsStr],
    ) -> Result<Ran, LvmError> {
        let output = Command::new(program)
            .args(args)
            .env("LC_ALL", "C")
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .stdin(Stdio::null())
            .output()
            .map_err(|source| LvmError::Spawn {
                program: program.to_owned(),
                step,
                subject: subject.to_owned(),
                source,
            })?;
        let mut stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if stderr.len() > 1024 {
            let mut end = 1024;
            while !stderr.is_char_boundary(end) {
                end -= 1;
            }
            stderr.truncate(end);
        }
        Ok(Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
        })
    }

    /// `lvm COMMAND ARGS…`; its stdout on success.
    fn run(
        &self,
        command: &'static str,
        step: &'static str,
        subject: &str,
        args: &[&OsStr],
    ) -> Result<String, LvmError> {
        let mut argv: Vec<&OsStr> = vec![command.as_ref()];
        argv.extend_from_slice(args);
        let ran = self.spawn(&self.lvm, step, subject, &argv)?;
        if ran.code == Some(0) {
            Ok(ran.stdout)
        } else {
            Err(LvmError::Failed {
                command,
                step,
                subject: subject.to_owned(),
                stderr: ran.stderr,
            })
        }
    }

    fn report(
        &self,
        command: &'static str,
        fields: &str,
        subject: Option<&str>,
    ) -> Result<String, LvmError> {
        let mut args: Vec<&OsStr> = vec![
            "--reportformat".as_ref(),
            "json".as_ref(),
            "--units".as_ref(),
            "b".as_ref(),
            "--nosuffix".as_ref(),
            "-o".as_ref(),
            fields.as_ref(),
        ];
        if let Some(subject) = subject {
            args.push("--".as_ref());
            args.push(subject.as_ref());
        }
        self.run(command, "list", subject.unwrap_or("everything"), &args)
    }

    /// Every volume group with its devices (one run: each costs some 50 ms of device scans).
    pub fn vgs(&self) -> Result<Vec<VgFacts>, LvmError> {
        parse_vgs(&self.report("vgs", "vg_name,vg_size,vg_free,pv_name", None)?)
    }

    /// The volume group `name`, if it exists.
    pub fn vg(&self, name: &str) -> Result<Option<VgFacts>, LvmError> {
        Ok(self.vgs()?.into_iter().find(|vg| vg.name == name))
    }

    /// Every physical volume.
    pub fn pvs(&self) -> Result<Vec<PvFacts>, LvmError> {
        parse_pvs(&self.report("pvs", "pv_name,vg_name", None)?)
    }

    /// The logical volumes of `vg`.
    pub fn lvs(&self, vg: &str) -> Result<Vec<LvFacts>, LvmError> {
        parse_lvs(&self.report("lvs", "lv_name,lv_uuid,lv_size,lv_attr", Some(vg))?)
    }

    /// `pvcreate --yes DEVICE`.
    pub fn pvcreate(&self, device: &str) -> Result<(), LvmError> {
        let args: [&OsStr; 3] = ["--yes".as_ref(), "--".as_ref(), device.as_ref()];
        self.run("pvcreate", "initialise", device, &args).map(drop)
    }

    /// `pvremove --yes DEVICE`.
    pub fn pvremove(&self, device: &str) -> Result<(), LvmError> {
        let args: [&OsStr; 3] = ["--yes".as_ref(), "--".as_ref(), device.as_ref()];
        self.run("pvremove", "remove the LVM label of", device, &args)
            .map(drop)
    }

    /// `vgcreate VG DEVICES…`.
    pub fn vgcreate(&self, vg: &str, devices: &[String]) -> Result<(), LvmError> {
        let mut args: Vec<&OsStr> = vec!["--".as_ref(), vg.as_ref()];
        args.extend(devices.iter().map(OsStr::new));
        self.run("vgcreate", "create volume group", vg, &args)
            .map(drop)
    }

    /// `vgchange -aly VG` or `-aln`.
    pub fn vgchange(&self, vg: &str, activate: bool) -> Result<(), LvmError> {
        let (flag, step) = if activate {
            ("-aly", "activate volume group")
        } else {
            ("-aln", "deactivate volume group")
        };
        let args: [&OsStr; 3] = [flag.as_ref(), "--".as_ref(), vg.as_ref()];
        self.run("vgchange", step, vg, &args).map(drop)
    }

    /// `vgremove --force VG`.
    pub fn vgremove(&self, vg: &str) -> Result<(), LvmError> {
        let args: [&OsStr; 3] = ["--force".as_ref(), "--".as_ref(), vg.as_ref()];
        self.run("vgremove", "remove volume group", vg, &args)
            .map(drop)
    }

    /// `lvcreate --yes --wipesignatures y --name LV --size BYTESb VG`.
    pub fn lvcreate(&self, vg: &str, lv: &str, size: u64) -> Result<(), LvmError> {
        let size = format!("{size}b");
        let args: [&OsStr; 9] = [
            "--yes".as_ref(),
            "--wipesignatures".as_ref(),
            "y".as_ref(),
            "--name".as_ref(),
            lv.as_ref(),
            "--size".as_ref(),
            size.as_ref(),
            "--".as_ref(),
            vg.as_ref(),
        ];
        self.run(
            "lvcreate",
            "create logical volume",
            &format!("{vg}/{lv}"),
            &args,
        )
        .map(drop)
    }

    /// `lvremove --force VG/LV`.
    pub fn lvremove(&self, vg: &str, lv: &str) -> Result<(), LvmError> {
        let target = format!("{vg}/{lv}");
        let args: [&OsStr; 3] = ["--force".as_ref(), "--".as_ref(), target.as_ref()];
        self.run("lvremove", "remove logical volume", &target, &args)
            .map(drop)
    }

    /// `lvresize --yes [--force] --size BYTESb VG/LV` (`--force` to shrink without a prompt).
    pub fn lvresize(&self, vg: &str, lv: &str, size: u64, shrink: bool) -> Result<(), LvmError> {
        let target = format!("{vg}/{lv}");
        let size = format!("{size}b");
        let mut args: Vec<&OsStr> = vec!["--yes".as_ref()];
        if shrink {
            args.push("--force".as_ref());
        }
        args.extend::<[&OsStr; 4]>([
            "--size".as_ref(),
            size.as_ref(),
            "--".as_ref(),
            target.as_ref(),
        ]);
        self.run("lvresize", "resize logical volume", &target, &args)
            .map(drop)
    }

    /// What signature `device` holds (file system, partition table, LVM label), if any.
    pub fn probe_signature(&self, device: &str) -> Result<Option<String>, LvmError> {
        let args: [&OsStr; 5] = [
            "-p".as_ref(),
            "-o".as_ref(),
            "export".as_ref(),
            "--".as_ref(),
            device.as_ref(),
        ];
        let ran = self.spawn(&self.blkid, "probe", device, &args)?;
        match ran.code {
            Some(0) => Ok(parse_blkid(&ran.stdout)),
            // blkid's exit status 2: nothing found.
            Some(2) => Ok(None),
            _ => Err(LvmError::Failed {
                command: "blkid",
                step: "probe",
                subject: device.to_owned(),
                stderr: ran.stderr,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lvm_names_follow_lvm_rules() {
        for good in ["vg0", "guest.disk", "a+b_c-d", "A9"] {
            check_lvm_name("logical volume", good, true).unwrap();
        }
        for bad in [
            "", ".", "..", "-vg", "a/b", "../etc", "a b", "a\nb", "é", "a$b", "a:b",
        ] {
            check_lvm_name("volume group", bad, false).unwrap_err();
        }
        check_lvm_name("volume group", &"a".repeat(LVM_NAME_MAX), false).unwrap();
        check_lvm_name("volume group", &"a".repeat(LVM_NAME_MAX + 1), false).unwrap_err();
        check_lvm_name("logical volume", "snapshot", true).unwrap_err();
        check_lvm_name("logical volume", "pvmove0", true).unwrap_err();
        check_lvm_name("logical volume", "x_tmeta", true).unwrap_err();
        check_lvm_name("volume group", "x_tmeta", false).unwrap();
        let err = check_lvm_name("logical volume", "../../etc/shadow", true).unwrap_err();
        assert!(err.contains("contains '/'"), "{err}");
    }

    #[test]
    fn reports_parse() {
        let vgs = parse_vgs(
            r#"  {
      "report": [
          {
              "vg": [
                  {"vg_name":"vg0", "vg_size":"205520896", "vg_free":"201326592", "pv_name":"/dev/loop0"},
                  {"vg_name":"vg0", "vg_size":"205520896", "vg_free":"201326592", "pv_name":"/dev/loop1"},
                  {"vg_name":"vg1", "vg_size":"4194304", "vg_free":"0", "pv_name":"/dev/loop2"}
              ]
          }
      ]
  }"#,
        )
        .unwrap();
        assert_eq!(
            vgs[0],
            VgFacts {
                name: "vg0".into(),
                size: 205_520_896,
                free: 201_326_592,
                devices: vec!["/dev/loop0".into(), "/dev/loop1".into()],
            }
        );
        assert_eq!((vgs.len(), vgs[1].free), (2, 0));
        let lvs = parse_lvs(
            r#"{"report":[{"lv":[{"lv_name":"a","lv_uuid":"ZYzy3g-AwHF","lv_size":"8388608",
            "lv_attr":"-wi-a-----"},{"lv_name":"[lvol0_pmspare]","lv_uuid":"x","lv_size":"0",
            "lv_attr":"ewi-------"},{"lv_name":"tp","lv_uuid":"y","lv_size":"1","lv_attr":"twi---tz--"}]}]}"#,
        )
        .unwrap();
        assert_eq!(lvs[0].size, 8 << 20);
        assert_eq!(lvs[0].uuid, "ZYzy3g-AwHF");
        let plain: Vec<bool> = lvs.iter().map(LvFacts::is_plain).collect();
        assert_eq!(plain, [true, false, false]);
        let pvs = parse_pvs(
            r#"{"report":[{"pv":[{"pv_name":"/dev/loop0","vg_name":"vg0"},
            {"pv_name":"/dev/loop1","vg_name":""}]}]}"#,
        )
        .unwrap();
        assert_eq!(pvs[1].vg, "");
        parse_vgs(r#"{"report":[{"vg":[{"vg_name":"v","vg_size":"x","vg_free":"1"}]}]}"#)
            .unwrap_err();
        parse_lvs("not json").unwrap_err();
        assert!(parse_vgs(r#"{"report":[{}]}"#).unwrap().is_empty());
    }

    #[test]
    fn blkid_export_gives_the_type() {
        assert_eq!(
            parse_blkid("DEVNAME=/dev/loop0\nUUID=x\nTYPE=LVM2_member\n").as_deref(),
            Some("LVM2_member")
        );
        assert_eq!(
            parse_blkid("DEVNAME=/dev/loop0\nPTUUID=1\nPTTYPE=dos\n").as_deref(),
            Some("dos")
        );
        assert_eq!(parse_blkid(""), None);
    }
}
