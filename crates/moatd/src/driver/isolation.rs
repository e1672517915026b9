//! The security side of starting and stopping a guest: labels set and restored, the cgroup
//! made and removed, the live state written and reclaimed after a daemon restart. Each step is
//! audited. [`super::confine`] holds the pure parts (the disk policy, the jail spec).

use std::path::{Path, PathBuf};

use domxml::model::Seclabel;
use domxml::Domain;
use qemu::paths::RuntimePaths;
use qemu::supervise::Confinement;
use serde_json::json;
use uuid::Uuid;

use super::confine::{self, Jail};
use super::lifecycle::LiveSecurity;
use super::{Driver, DriverError};
use crate::audit::Outcome;
use crate::errors::chain;
use crate::identity::PeerIdentity;

/// A start in progress: what has been done to the host for it so far, undone by
/// [`Confined::undo`] if the start fails. It owns what it needs, so that its blocking file and
/// cgroup work can run off the thread that serves the connections.
#[derive(Debug)]
pub struct Confined {
    driver: std::sync::Arc<Driver>,
    def: Domain,
    who: PeerIdentity,
    labels: Vec<Seclabel>,
    labelled: bool,
    created: Vec<PathBuf>,
    cgroup: Option<jail::cgroup::GuestCgroup>,
    live_file: Option<PathBuf>,
}

impl Confined {
    /// Starts from freshly generated `labels` (reserved in the stack).
    pub fn new(
        driver: std::sync::Arc<Driver>,
        def: Domain,
        labels: Vec<Seclabel>,
        who: PeerIdentity,
    ) -> Self {
        Confined {
            driver,
            def,
            who,
            labels,
            labelled: false,
            created: Vec::new(),
            cgroup: None,
            live_file: None,
        }
    }

    /// Labels and hands over the guest's resources, creates its cgroup, records the live state
    /// and describes the jail. On failure everything done is undone.
    pub fn prepare(
        &mut self,
        paths: &RuntimePaths,
        emulator: &Path,
    ) -> Result<Confinement, DriverError> {
        let result = self.prepare_inner(paths, emulator);
        if result.is_err() {
            self.undo();
        }
        result
    }

    fn prepare_inner(
        &mut self,
        paths: &RuntimePaths,
        emulator: &Path,
    ) -> Result<Confinement, DriverError> {
        let driver = std::sync::Arc::clone(&self.driver);
        let stack = driver.lifecycle.security();
        let object = json!({"domain": self.def.name, "uuid": self.def.uuid.to_string()});
        let ids = stack
            .credentials(&self.labels)
            .map(|c| (c.uid, c.gid))
            .ok_or_else(|| {
                DriverError::Security(
                    "the guest has no uid of its own (a 'dac' label of type none); \
                     Moat runs every guest under its own uid"
                        .into(),
                )
            })?;
        // The live state first: a daemon killed anywhere after this point finds it at restart
        // and undoes what had been done (release_stale), whether QEMU ran or not.
        let live_file = confine::live_file(&driver.run_dir, &self.def.name);
        confine::write_live(&live_file, &self.def, &self.labels).map_err(|err| {
            DriverError::Security(format!(
                "cannot record the live state in {}: {err}",
                live_file.display()
            ))
        })?;
        self.live_file = Some(live_file);
        let resources = security::resources::collect(&self.def);
        self.created = confine::create_missing_files(&resources)
            .map_err(|err| DriverError::Security(err.to_string()))?;
        let applied = stack.set_all(&self.def, &self.labels);
        let mut record = object.clone();
        record["labels"] = labels_json(&self.labels);
        match &applied {
            Ok(applied) => {
                record["applied"] = json!(format!("{applied:?}"));
                driver
                    .audit
                    .record(&self.who, "SECURITY_SET_LABELS", record, Outcome::Ok)
            }
            Err(err) => driver.audit.record(
                &self.who,
                "SECURITY_SET_LABELS",
                record,
                Outcome::Error(&chain(err)),
            ),
        }
        applied.map_err(|err| DriverError::Security(chain(&err)))?;
        self.labelled = true;
        let kvm = confine::wants_kvm(&self.def, driver.lifecycle_kvm_usable());
        let limits = confine::cgroup_limits(&self.def, &driver.config, kvm);
        let cgroup = confine::create_cgroup(&self.def, &driver.config, &limits)
            .map_err(|err| DriverError::Security(chain(&err)))?;
        let cgroup_procs = cgroup.procs_files();
        self.cgroup = Some(cgroup);
        let new_root = driver.run_dir.join("jail-root");
        std::fs::create_dir_all(&new_root).map_err(|err| {
            DriverError::Security(format!("cannot create {}: {err}", new_root.display()))
        })?;
        let exec_label = if driver.config.selinux_test_context.is_some() {
            None
        } else {
            stack.exec_label(&self.labels)
        };
        let spec = Jail {
            def: &self.def,
            resources: &resources,
            ids,
            run_dir: &paths.run_dir,
            new_root: &new_root,
            emulator,
            kvm,
            exec_label,
            cgroup_procs,
        }
        .spec();
        let mut record = object;
        record["uid"] = json!(ids.0);
        record["gid"] = json!(ids.1);
        record["binds"] = json!(spec.binds.len());
        record["landlock_abi"] = json!(jail::landlock_abi());
        record["seccomp"] = json!(spec.seccomp);
        driver
            .audit
            .record(&self.who, "SECURITY_CONFINE", record, Outcome::Ok);
        Ok(Confinement {
            jail_binary: driver.lifecycle.jail_binary().to_owned(),
            spec,
        })
    }

    /// Undoes a start that failed: the host is left as it was.
    pub fn undo(&mut self) {
        let driver = std::sync::Arc::clone(&self.driver);
        let stack = driver.lifecycle.security();
        if let Some(cgroup) = self.cgroup.take() {
            if let Err(err) = cgroup.remove() {
                tracing::warn!(domain = %self.def.name, err = %chain(&err), "cannot remove cgroup");
            }
        }
        if self.labelled {
            let warnings = stack.restore_all(&self.def, &self.labels);
            audit_restore(&driver, &self.who, &self.def, &warnings);
            self.labelled = false;
        }
        stack.release(&self.labels);
        self.labels.clear();
        for path in self.created.drain(..) {
            let _ = std::fs::remove_file(path);
        }
        if let Some(path) = self.live_file.take() {
            confine::remove_live(&path);
        }
    }

    /// The start succeeded: what the stop must undo.
    pub fn finish(self) -> LiveSecurity {
        let Confined {
            def,
            labels,
            cgroup,
            ..
        } = self;
        LiveSecurity {
            def,
            labels,
            cgroup,
        }
    }
}

fn labels_json(labels: &[Seclabel]) -> serde_json::Value {
    labels
        .iter()
        .map(|l| {
            json!({
                "model": l.model,
                "type": format!("{:?}", l.kind).to_lowercase(),
                "label": l.label,
                "imagelabel": l.imagelabel,
            })
        })
        .collect()
}

fn audit_restore(
    driver: &Driver,
    who: &PeerIdentity,
    def: &Domain,
    warnings: &[security::RestoreWarning],
) {
    let mut record = json!({"domain": def.name, "uuid": def.uuid.to_string()});
    record["warnings"] = warnings.iter().map(|w| json!(w.to_string())).collect();
    for warning in warnings {
        tracing::warn!(domain = %def.name, %warning, "restore");
    }
    driver
        .audit
        .record(who, "SECURITY_RESTORE_LABELS", record, Outcome::Ok);
}

impl Driver {
    /// Undoes the confinement of a guest whose QEMU has ended.
    pub(super) fn release_confinement(&self, live: &LiveSecurity, who: &PeerIdentity) {
        let stack = self.lifecycle.security();
        if let Some(cgroup) = &live.cgroup {
            if let Err(err) = cgroup.remove() {
                tracing::warn!(domain = %live.def.name, err = %chain(&err), "cannot remove cgroup");
            }
        }
        let warnings = stack.restore_all(&live.def, &live.labels);
        audit_restore(self, who, &live.def, &warnings);
        stack.release(&live.labels);
        confine::remove_live(&confine::live_file(&self.run_dir, &live.def.name));
    }

    /// After a restart: takes back the labels and cgroup of a guest whose QEMU (`pid`) still
    /// runs. `None` if they cannot be reserved again (another guest holds them); the caller
    /// then stops the QEMU, and its files are restored here.
    pub(super) fn reclaim_confinement(
        &self,
        uuid: &Uuid,
        name: &str,
        pid: i32,
    ) -> Option<LiveSecurity> {
        let stack = self.lifecycle.security();
        let path = confine::live_file(&self.run_dir, name);
        let def = match confine::read_live(&path, Some(stack.primary_model())) {
            Ok(Some(def)) if def.uuid == *uuid => def,
            Ok(_) => {
                tracing::error!(domain = %name, "a running guest has no live state; it cannot be kept");
                return None;
            }
            Err(reason) => {
                tracing::error!(domain = %name, %reason, "a running guest's live state is unusable");
                return None;
            }
        };
        let labels = def.seclabels.clone();
        self.lifecycle.record_process_label(pid, &labels);
        let cgroup = confine::find_cgroup(&def, &self.config);
        let who = PeerIdentity::daemon();
        let object = json!({"domain": name, "uuid": uuid.to_string(), "pid": pid});
        match stack.reserve_running(&labels, pid) {
            Ok(()) => {
                self.audit
                    .record(&who, "SECURITY_RESERVE_LABELS", object, Outcome::Ok);
                Some(LiveSecurity {
                    def,
                    labels,
                    cgroup,
                })
            }
            Err(err) => {
                let message = chain(&err);
                tracing::error!(domain = %name, err = %message, "cannot reserve a running guest's labels; stopping it");
                self.audit.record(
                    &who,
                    "SECURITY_RESERVE_LABELS",
                    object,
                    Outcome::Error(&message),
                );
                if let Some(cgroup) = &cgroup {
                    let _ = cgroup.remove();
                }
                let warnings = stack.restore_all(&def, &labels);
                audit_restore(self, &who, &def, &warnings);
                confine::remove_live(&path);
                None
            }
        }
    }

    /// After a restart: a guest whose QEMU ended while the daemon was away; restores its files
    /// and removes its cgroup and live state.
    pub(super) fn release_stale(&self, uuid: &Uuid, name: &str) {
        let stack = self.lifecycle.security();
        let path = confine::live_file(&self.run_dir, name);
        let Ok(Some(def)) = confine::read_live(&path, Some(stack.primary_model())) else {
            confine::remove_live(&path);
            return;
        };
        if def.uuid != *uuid {
            return;
        }
        if let Some(cgroup) = confine::find_cgroup(&def, &self.config) {
            // A QEMU whose pidfile was never written (the daemon died between spawn and
            // pidfile) is still in the guest's cgroup: it cannot be controlled, so it goes.
            for pid in cgroup.pids() {
                tracing::warn!(domain = %def.name, pid, "killing an unrecorded process of a stopped guest");
                if let Some(pid) = i32::try_from(pid)
                    .ok()
                    .and_then(rustix::process::Pid::from_raw)
                {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
            if let Err(err) = cgroup.remove() {
                tracing::warn!(domain = %def.name, err = %chain(&err), "cannot remove cgroup");
            }
        }
        let warnings = stack.restore_all(&def, &def.seclabels);
        audit_restore(self, &PeerIdentity::daemon(), &def, &warnings);
        confine::remove_live(&path);
    }

    /// After a restart: transient guests (never stored) that were running are known only from
    /// their live state; put them back in the registry, so that they are found again like the
    /// others, or cleaned up if their QEMU is gone.
    pub(super) fn recover_transient(&self) {
        let stack = self.lifecycle.security();
        let dir = self.run_dir.join("qemu");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().map_or(true, |e| e != "xml") {
                continue;
            }
            let def = match confine::read_live(&path, Some(stack.primary_model())) {
                Ok(Some(def)) => def,
                Ok(None) => continue,
                Err(reason) => {
                    tracing::warn!(%reason, "live state skipped");
                    continue;
                }
            };
            let mut registry = self.write();
            if registry.get(&def.uuid).is_some() {
                continue;
            }
            if registry.check_define(&def).is_err() {
                tracing::warn!(domain = %def.name, "a transient guest's name is taken; its live state is left alone");
                continue;
            }
            let uuid = def.uuid;
            tracing::info!(domain = %def.name, "transient guest found in its live state");
            registry.define(def);
            if let Some(object) = registry.get_mut(&uuid) {
                object.persistent = false;
            }
        }
    }

    /// The security stack guests run under.
    pub fn security(&self) -> &security::SecurityStack {
        self.lifecycle.security()
    }

    /// The process labels of a running guest, one per model, primary first; empty when it is
    /// not running.
    pub fn process_labels(&self, uuid: &Uuid) -> Vec<security::ProcessLabel> {
        match self.live_labels(uuid) {
            Some((labels, pid)) => self.security().process_label(&labels, pid),
            None => Vec::new(),
        }
    }

    /// The labels of a running guest, for its live XML and the security label calls.
    pub fn live_labels(&self, uuid: &Uuid) -> Option<(Vec<Seclabel>, i32)> {
        self.lifecycle
            .guest(uuid)
            .map(|guest| (guest.security.labels.clone(), guest.process.pid()))
    }
}
