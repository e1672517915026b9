//! Labelling a guest's resources at start and restoring them at stop, as one transaction.
//!
//! [`crate::SecurityStack::set_all`] asks every model of the stack for a step per resource
//! and applies them in stack order, resource by resource, recording an undo entry for each. On
//! the first failure the entries are undone in reverse order, so a failed start leaves every
//! file as it was: labels, owners, ACLs and remember-owner xattrs. Steps:
//!
//! 1. resolve the path (symlinks, like libvirt); a missing chardev output file is created first
//!    (QEMU would create it anyway; undone on rollback);
//! 2. with remember-owner, count this guest as a holder (§3 of the reference) and refuse a
//!    second holder that wants another label ("… which is already in use");
//! 3. change the label or owner if it differs, or add the ACL entry.
//!
//! Restore ([`crate::SecurityStack::restore_all`]) walks the same steps and never fails: what
//! it cannot do becomes a [`RestoreWarning`].

use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::dac::Credentials;
use crate::remember::{self, Recall, RememberError};
use crate::{dac, posix_acl, selinux};

/// What one model does to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing.
    Skip,
    /// Nothing, but say why.
    Warn(String),
    /// Set the SELinux label; `remember` also means restore at stop.
    Label { label: String, remember: bool },
    /// Hand the file to the guest (remembered, restored at stop).
    Chown { uid: u32, gid: u32 },
    /// Add an ACL entry for the guest's uid (removed at stop).
    Grant { uid: u32, perm: u16 },
}

/// What was changed on one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The SELinux label (`security.selinux`).
    Label,
    /// Owner and group.
    Chown,
    /// A POSIX ACL entry for the guest's uid.
    AclGrant,
    /// The file did not exist and was created empty.
    Create,
}

/// One change made by [`crate::SecurityStack::set_all`], for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedItem {
    /// The file (symlinks resolved).
    pub path: PathBuf,
    /// The model that made the change.
    pub model: String,
    /// What changed.
    pub action: Action,
    /// Before: a context, `+uid:+gid`, the ACL entry's absence (`""`).
    pub old: String,
    /// After.
    pub new: String,
}

/// Everything [`crate::SecurityStack::set_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The changes, in order.
    pub items: Vec<AppliedItem>,
    /// What was skipped and why (directory disks, unsupported filesystems, stale xattrs).
    pub warnings: Vec<String>,
}

/// Something restore could not do; the guest has stopped all the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreWarning {
    /// The file.
    pub path: PathBuf,
    /// The model.
    pub model: String,
    /// What happened, in words.
    pub message: String,
}

impl std::fmt::Display for RestoreWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.path.display(),
            self.model,
            self.message
        )
    }
}

/// Why a guest's resources could not be labelled. Nothing stays changed when this is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelabelError {
    /// A file's label, owner or ACL could not be read or changed.
    #[error("{step} {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The step, e.g. `set SELinux label on`.
        step: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Remember-owner xattrs could not be read or written.
    #[error(transparent)]
    Remember(#[from] RememberError),
    /// A POSIX ACL could not be changed.
    #[error(transparent)]
    Acl(#[from] posix_acl::AclError),
    /// Another running guest holds the file under another SELinux label.
    #[error("Setting different SELinux label on {} which is already in use", path.display())]
    SelinuxInUse {
        /// The file.
        path: PathBuf,
    },
    /// Another running guest owns the file.
    #[error("Setting different DAC user or group on {} which is already in use", path.display())]
    DacInUse {
        /// The file.
        path: PathBuf,
    },
    /// The labels given are not live labels of this stack.
    #[error("no live {model} label: generate the guest's labels before set_all")]
    NotGenerated {
        /// The model.
        model: String,
    },
}

/// A change to undo on rollback.
#[derive(Debug)]
enum Undo {
    Label {
        path: PathBuf,
        old: String,
        remembered: bool,
    },
    Chown {
        path: PathBuf,
        old: Credentials,
        remembered: bool,
    },
    Grant {
        path: PathBuf,
        uid: u32,
    },
    Create {
        path: PathBuf,
    },
}

/// An original label kept in memory, for restore without remember-owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Original {
    pub path: PathBuf,
    pub model: &'static str,
    pub old: String,
}

/// The transaction of one `set_all`.
#[derive(Debug)]
pub(crate) struct Transaction {
    /// Boot time when remember-owner is on.
    boot: Option<u64>,
    /// Whether SELinux is enforcing (errors on unsupported labels are then fatal).
    enforcing: bool,
    journal: Vec<Undo>,
    pub applied: Applied,
    pub originals: Vec<Original>,
}

fn io_err<'a>(path: &'a Path, step: &'static str) -> impl FnOnce(io::Error) -> RelabelError + 'a {
    move |source| RelabelError::Io {
        path: path.to_owned(),
        step,
        source,
    }
}

/// Whether a failed `setfilecon` is skipped with a warning instead of failing the start
/// (libvirt's policy): filesystems without labels and read-only ones always; anything but a
/// missing file when SELinux is not enforcing.
fn label_error_is_soft(err: &io::Error, enforcing: bool) -> bool {
    match err.raw_os_error() {
        Some(libc::ENOTSUP | libc::EROFS) => true,
        Some(libc::ENOENT) => false,
        _ => !enforcing,
    }
}

/// Whether a failed `chown` is skipped (libvirt's DAC policy: filesystems without ownership,
/// root-squashed or read-only ones).
fn chown_error_is_soft(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ENOTSUP | libc::EINVAL | libc::EPERM | libc::EROFS)
    )
}

fn owner_of(path: &Path) -> io::Result<Credentials> {
    let meta = std::fs::metadata(path)?;
    Ok(Credentials {
        uid: meta.uid(),
        gid: meta.gid(),
    })
}

fn chown(path: &Path, creds: Credentials) -> io::Result<()> {
    std::os::unix::fs::chown(path, Some(creds.uid), Some(creds.gid))
}

impl Transaction {
    pub fn new(boot: Option<u64>, enforcing: bool) -> Self {
        Self {
            boot,
            enforcing,
            journal: Vec::new(),
            applied: Applied::default(),
            originals: Vec::new(),
        }
    }

    /// Creates a chardev output file QEMU would otherwise create as the guest.
    pub fn ensure_file(&mut self, path: &Path) -> Result<(), RelabelError> {
        if path.symlink_metadata().is_ok() {
            return Ok(());
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io_err(path, "create chardev file"))?;
        self.journal.push(Undo::Create {
            path: path.to_owned(),
        });
        self.record(path, "", Action::Create, "", "file");
        Ok(())
    }

    fn record(&mut self, path: &Path, model: &str, action: Action, old: &str, new: &str) {
        self.applied.items.push(AppliedItem {
            path: path.to_owned(),
            model: model.to_owned(),
            action,
            old: old.to_owned(),
            new: new.to_owned(),
        });
    }

    /// Applies one step to `path`.
    pub fn apply(
        &mut self,
        path: &Path,
        model: &'static str,
        step: &Step,
    ) -> Result<(), RelabelError> {
        if matches!(step, Step::Skip) {
            return Ok(());
        }
        if let Step::Warn(message) = step {
            tracing::warn!(path = %path.display(), model, "{message}");
            self.applied.warnings.push(message.clone());
            return Ok(());
        }
        let path = &std::fs::canonicalize(path).map_err(io_err(path, "resolve"))?;
        match step {
            Step::Label { label, remember } => self.label(path, label, *remember),
            Step::Chown { uid, gid } => self.chown(
                path,
                Credentials {
                    uid: *uid,
                    gid: *gid,
                },
            ),
            Step::Grant { uid, perm } => {
                if posix_acl::grant(path, *uid, *perm)? {
                    self.journal.push(Undo::Grant {
                        path: path.clone(),
                        uid: *uid,
                    });
                    let rights = if perm & posix_acl::WRITE != 0 {
                        "rw"
                    } else {
                        "r"
                    };
                    self.record(
                        path,
                        dac::MODEL,
                        Action::AclGrant,
                        "",
                        &format!("user:{uid}:{rights}"),
                    );
                }
                Ok(())
            }
            Step::Skip | Step::Warn(_) => Ok(()),
        }
    }

    /// Counts this guest as a holder; returns whether it was counted.
    fn hold(
        &mut self,
        path: &Path,
        model: &'static str,
        current: &str,
        wanted: &str,
    ) -> Result<bool, RelabelError> {
        let Some(boot) = self.boot else {
            return Ok(false);
        };
        let held = match remember::remember(path, model, current, boot) {
            Ok(held) => held,
            Err(RememberError::Read { source, .. } | RememberError::Write { source, .. })
                if remember::unsupported(&source) =>
            {
                self.applied.warnings.push(format!(
                    "cannot remember the {model} label of {}: no xattr support",
                    path.display()
                ));
                return Ok(false);
            }
            Err(err) => return Err(err.into()),
        };
        if held.dropped_stale {
            self.applied.warnings.push(format!(
                "Invalid XATTR timestamp detected on {} secdriver={model}",
                path.display()
            ));
        }
        if held.refcount > 1 && current != wanted {
            remember::recall(path, model, boot)?;
            return Err(match model {
                selinux::MODEL => RelabelError::SelinuxInUse {
                    path: path.to_owned(),
                },
                _ => RelabelError::DacInUse {
                    path: path.to_owned(),
                },
            });
        }
        Ok(true)
    }

    fn label(&mut self, path: &Path, wanted: &str, remember: bool) -> Result<(), RelabelError> {
        let current = match selinux::file_label(path) {
            Ok(label) => label.unwrap_or_default(),
            Err(err) if err.raw_os_error() == Some(libc::ENOTSUP) => {
                self.applied.warnings.push(format!(
                    "Setting security context '{wanted}' on '{}' not supported",
                    path.display()
                ));
                return Ok(());
            }
            Err(err) => return Err(io_err(path, "read SELinux label of")(err)),
        };
        let remembered = remember && self.hold(path, selinux::MODEL, &current, wanted)?;
        if current != wanted {
            if let Err(err) = selinux::set_file_label(path, wanted) {
                if remembered {
                    if let Some(boot) = self.boot {
                        remember::recall(path, selinux::MODEL, boot)?;
                    }
                }
                if label_error_is_soft(&err, self.enforcing) {
                    self.applied.warnings.push(format!(
                        "Setting security context '{wanted}' on '{}' failed, not enforcing: {err}",
                        path.display()
                    ));
                    return Ok(());
                }
                return Err(io_err(path, "set SELinux label on")(err));
            }
        }
        self.journal.push(Undo::Label {
            path: path.to_owned(),
            old: current.clone(),
            remembered,
        });
        if remember {
            self.originals.push(Original {
                path: path.to_owned(),
                model: selinux::MODEL,
                old: current.clone(),
            });
        }
        self.record(path, selinux::MODEL, Action::Label, &current, wanted);
        Ok(())
    }

    fn chown(&mut self, path: &Path, wanted: Credentials) -> Result<(), RelabelError> {
        let current = owner_of(path).map_err(io_err(path, "read owner of"))?;
        let remembered = self.hold(path, dac::MODEL, &current.label(), &wanted.label())?;
        if current != wanted {
            if let Err(err) = chown(path, wanted) {
                if remembered {
                    if let Some(boot) = self.boot {
                        remember::recall(path, dac::MODEL, boot)?;
                    }
                }
                if chown_error_is_soft(&err) {
                    self.applied.warnings.push(format!(
                        "unable to set user and group to '{}:{}' on '{}': not supported",
                        wanted.uid,
                        wanted.gid,
                        path.display()
                    ));
                    return Ok(());
                }
                return Err(io_err(path, "set user and group of")(err));
            }
        }
        self.journal.push(Undo::Chown {
            path: path.to_owned(),
            old: current,
            remembered,
        });
        self.originals.push(Original {
            path: path.to_owned(),
            model: dac::MODEL,
            old: current.label(),
        });
        self.record(
            path,
            dac::MODEL,
            Action::Chown,
            &current.label(),
            &wanted.label(),
        );
        Ok(())
    }

    /// Undoes everything in reverse order; failures are logged, the rest goes on.
    pub fn rollback(mut self) {
        while let Some(undo) = self.journal.pop() {
            let result = match &undo {
                Undo::Label {
                    path,
                    old,
                    remembered,
                } => self
                    .forget(path, selinux::MODEL, *remembered)
                    .and_then(|()| {
                        selinux::set_file_label(path, old)
                            .map_err(io_err(path, "restore SELinux label of"))
                    }),
                Undo::Chown {
                    path,
                    old,
                    remembered,
                } => self
                    .forget(path, dac::MODEL, *remembered)
                    .and_then(|()| chown(path, *old).map_err(io_err(path, "restore owner of"))),
                Undo::Grant { path, uid } => posix_acl::revoke(path, *uid)
                    .map(|_| ())
                    .map_err(Into::into),
                Undo::Create { path } => {
                    std::fs::remove_file(path).map_err(io_err(path, "remove created file"))
                }
            };
            if let Err(err) = result {
                tracing::warn!(?undo, error = %err, "Ignoring failed restore attempt during rollback");
            }
        }
    }

    /// Counts this guest out of `path` on rollback. When other holders remain, the file already
    /// had the wanted label, so restoring `old` (the same label) changes nothing.
    fn forget(&self, path: &Path, model: &str, remembered: bool) -> Result<(), RelabelError> {
        if let (true, Some(boot)) = (remembered, self.boot) {
            remember::recall(path, model, boot)?;
        }
        Ok(())
    }
}

/// Restores one step applied by [`Transaction::apply`]; `memory` is the original kept in memory
/// for when nothing is remembered on the file.
pub(crate) fn restore(
    path: &Path,
    model: &'static str,
    step: &Step,
    boot: Option<u64>,
    memory: Option<&str>,
    warnings: &mut Vec<RestoreWarning>,
) {
    let warn = |warnings: &mut Vec<RestoreWarning>, message: String| {
        tracing::warn!(path = %path.display(), model, "{message}");
        warnings.push(RestoreWarning {
            path: path.to_owned(),
            model: model.to_owned(),
            message,
        });
    };
    let remembered_step = match step {
        Step::Label { remember: true, .. } | Step::Chown { .. } => true,
        Step::Grant { uid, .. } => {
            let Ok(path) = std::fs::canonicalize(path) else {
                return;
            };
            if let Err(err) = posix_acl::revoke(&path, *uid) {
                warn(
                    warnings,
                    format!("Ignoring failed restore attempt: {}", chain(&err)),
                );
            }
            return;
        }
        _ => false,
    };
    if !remembered_step {
        return;
    }
    let path = match std::fs::canonicalize(path) {
        Ok(path) => path,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return,
        Err(err) => return warn(warnings, format!("cannot resolve path: {err}")),
    };
    let recalled = match boot {
        Some(boot) => match remember::recall(&path, model, boot) {
            Ok(recall) => recall,
            Err(err) => {
                if matches!(&err, RememberError::Read { source, .. } if remember::unsupported(source))
                {
                    Recall::Nothing
                } else {
                    return warn(
                        warnings,
                        format!("Ignoring failed restore attempt: {}", chain(&err)),
                    );
                }
            }
        },
        None => Recall::Nothing,
    };
    let original = match recalled {
        Recall::InUse(_) => return,
        Recall::Label(label) => label,
        Recall::Nothing => match memory {
            Some(label) => label.to_owned(),
            None => {
                return warn(
                    warnings,
                    "no remembered original label: left as it is".to_owned(),
                )
            }
        },
    };
    let result = match model {
        selinux::MODEL => selinux::set_file_label(&path, &original),
        _ => match Credentials::parse(&original) {
            Some(creds) => chown(&path, creds),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("remembered owner {original:?} is not +uid:+gid"),
            )),
        },
    };
    if let Err(err) = result {
        warn(warnings, format!("Ignoring failed restore attempt: {err}"));
    }
}

/// An error and its sources, joined with ": ".
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
