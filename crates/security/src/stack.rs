//! The stack of security models one daemon applies to every guest, and label generation.
//!
//! Built from `security_driver` (§4 of the reference): the first model is the primary one, the
//! rest follow in list order, and a privileged daemon appends `dac` last. With no list, the
//! first model this host supports: `selinux`, then `landlock`, then `none`.
//!
//! Per guest start the daemon calls [`SecurityStack::generate`] (live labels, one per model),
//! [`SecurityStack::set_all`] (label the resources), then runs QEMU under
//! [`SecurityStack::credentials`] and [`SecurityStack::exec_label`]. At stop it calls
//! [`SecurityStack::restore_all`] then [`SecurityStack::release`]. After a daemon restart,
//! [`SecurityStack::reserve_running`] holds the labels of guests still running again.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use domxml::model::{DomainType, Seclabel, SeclabelType, Uuid};
use domxml::Domain;
use seclabel::svirt::{GuestLabel, LabelGenerator, LabelKind, SvirtError, SvirtPolicy, VirtType};
use seclabel::Context;

use crate::context::ProcessContext;
use crate::dac::{self, Credentials};
use crate::ids::{HostAccounts, IdAllocator, IdError};
use crate::relabel::{self, Applied, Original, RelabelError, RestoreWarning, Step, Transaction};
use crate::remember::{self, RememberError};
use crate::resources::{self, Resource, ResourceKind};
use crate::{landlock, selinux};

/// The security part of the daemon's configuration (qemu.conf names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityConfig {
    /// `security_driver`: `selinux`, `landlock`, `none`; empty chooses automatically.
    pub drivers: Vec<String>,
    /// `security_default_confined`: guests without a seclabel get a dynamic one.
    pub default_confined: bool,
    /// `security_require_confined`: refuse unconfined guests.
    pub require_confined: bool,
    /// `dynamic_ownership`: chown resources to the guest's uid at start, restore at stop.
    pub dynamic_ownership: bool,
    /// `remember_owner`: keep original labels in `trusted.libvirt.security.*` xattrs.
    pub remember_owner: bool,
    /// Ids (uid = gid) handed to guests by the `dac` model.
    pub guest_ids: RangeInclusive<u32>,
    /// The daemon runs as root: `dac` is appended last.
    pub privileged: bool,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            drivers: Vec::new(),
            default_confined: true,
            require_confined: false,
            dynamic_ownership: true,
            remember_owner: true,
            guest_ids: 1_000_000..=1_065_535,
            privileged: true,
        }
    }
}

/// What the host offers and where to read it.
#[derive(Debug)]
pub struct HostSecurity {
    /// SELinux, when enabled ([`crate::KernelContext::probe`]).
    pub selinux: Option<Box<dyn ProcessContext>>,
    /// The Landlock ABI version, when the kernel has Landlock.
    pub landlock_abi: Option<u32>,
    /// Where procfs is (`/proc`): boot time, process credentials.
    pub proc_root: PathBuf,
    /// Root of the account database (`/`): `etc/passwd` and `etc/group`.
    pub passwd_root: PathBuf,
}

/// Why the stack could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// A named model this host does not support.
    #[error("security driver {name} is not enabled on this host")]
    NotEnabled {
        /// The model.
        name: String,
    },
    /// An unknown model.
    #[error("security driver {name} not found")]
    NotFound {
        /// The name given.
        name: String,
    },
    /// A model listed twice.
    #[error("Duplicate security driver {name}")]
    Duplicate {
        /// The model.
        name: String,
    },
    /// `none` together with other models.
    #[error("security driver none cannot be combined with other drivers")]
    NoneWithOthers,
    /// `dac` in the list.
    #[error(
        "security driver dac cannot be listed: it is added last when the daemon is privileged"
    )]
    DacListed,
    /// `require_confined` with no confining model.
    #[error("Security driver \"none\" cannot create confined guests")]
    NoneRequireConfined,
    /// The daemon's SELinux context could not be read.
    #[error("read the daemon's SELinux context")]
    DaemonContext(#[source] std::io::Error),
    /// The daemon's SELinux context is unusable for label generation.
    #[error("set up SELinux label generation")]
    Selinux(#[source] SvirtError),
    /// The guest id range is empty.
    #[error("guest id range {first}-{last} is empty")]
    EmptyIdRange {
        /// First id.
        first: u32,
        /// Last id.
        last: u32,
    },
    /// The boot time for remember-owner timestamps could not be read.
    #[error(transparent)]
    BootTime(RememberError),
}

/// Why labels could not be generated, reserved or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabelError {
    /// The domain names a model that is not in the stack.
    #[error("Security driver model '{model}' is not available")]
    ModelNotAvailable {
        /// The model.
        model: String,
    },
    /// A `none` label with `security_require_confined`.
    #[error("Unconfined guests are not allowed on this host")]
    Unconfined,
    /// A dynamic label that already carries a `<label>`.
    #[error("security label already defined for VM")]
    LabelAlreadyDefined,
    /// A label that already carries an `<imagelabel>`.
    #[error("security image label already defined for VM")]
    ImageLabelAlreadyDefined,
    /// A static label without `<label>`.
    #[error("missing label for static security driver in domain {domain}")]
    LabelMissing {
        /// The model.
        model: &'static str,
        /// The domain.
        domain: String,
    },
    /// A `<baselabel>` for a model without base labels.
    #[error("cannot set a base label with {model}")]
    BaseLabel {
        /// The model.
        model: &'static str,
    },
    /// A DAC label that is not `user:group`.
    #[error("invalid DAC label '{label}': expected user:group, +uid:+gid")]
    BadDacLabel {
        /// The label.
        label: String,
    },
    /// SELinux label generation or reservation.
    #[error(transparent)]
    Selinux(#[from] SvirtError),
    /// The guest id allocator.
    #[error(transparent)]
    Ids(#[from] IdError),
    /// A process's SELinux context could not be read.
    #[error("read SELinux context of process {pid}")]
    ProcessContext {
        /// The process.
        pid: i32,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A process's SELinux context is not a context.
    #[error("SELinux context {context:?} of process {pid} is invalid")]
    BadProcessContext {
        /// The process.
        pid: i32,
        /// The text.
        context: String,
        /// Why.
        #[source]
        source: seclabel::ContextError,
    },
    /// `<proc_root>/PID/status` could not be read.
    #[error("read credentials from {}", path.display())]
    ProcessStatus {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A running guest's uid or gid is not its DAC label's.
    #[error("process {pid} runs as uids {uids:?} gids {gids:?}, not as its DAC label {label}")]
    CredentialsMismatch {
        /// The process.
        pid: i32,
        /// Real, effective, saved, filesystem uid.
        uids: [u32; 4],
        /// Real, effective, saved, filesystem gid.
        gids: [u32; 4],
        /// The label.
        label: String,
    },
}

/// A model of the stack, for `<secmodel>` in the capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// `selinux`, `landlock`, `dac` or `none`.
    pub name: String,
    /// Domain of interpretation, always `0`.
    pub doi: String,
    /// `(virt type, base label)`: `kvm` and `qemu` for selinux; empty for the others, whose
    /// labels are per guest.
    pub base_labels: Vec<(String, String)>,
}

/// A running guest's label under one model (`virDomainGetSecurityLabelList`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessLabel {
    /// The model.
    pub model: String,
    /// The label; empty if unknown or unconfined.
    pub label: String,
    /// Whether the model enforces it.
    pub enforcing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    Selinux,
    Landlock,
    Dac,
    None,
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::Selinux => selinux::MODEL,
            Model::Landlock => landlock::MODEL,
            Model::Dac => dac::MODEL,
            Model::None => "none",
        }
    }
}

/// What the allocators hold.
#[derive(Debug)]
struct Held {
    selinux: Option<LabelGenerator>,
    ids: IdAllocator,
}

/// The models a daemon applies to its guests, with the labels held by running guests.
#[derive(Debug)]
pub struct SecurityStack {
    models: Vec<Model>,
    config: SecurityConfig,
    selinux: Option<Box<dyn ProcessContext>>,
    proc_root: PathBuf,
    passwd_root: PathBuf,
    boot: Option<u64>,
    policy: SvirtPolicy,
    held: Mutex<Held>,
    /// Serializes labelling, whose remember-owner counts are read-modify-write on xattrs;
    /// holds the originals of each running guest for restore without remember-owner.
    files: Mutex<HashMap<Uuid, Vec<Original>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl SecurityStack {
    /// Builds the stack for `config` on `host`, with the targeted policy's sVirt types.
    pub fn new(config: &SecurityConfig, host: HostSecurity) -> Result<SecurityStack, StackError> {
        Self::with_policy(config, host, SvirtPolicy::targeted())
    }

    /// Like [`SecurityStack::new`] with the policy's contexts read from its files.
    pub fn with_policy(
        config: &SecurityConfig,
        host: HostSecurity,
        policy: SvirtPolicy,
    ) -> Result<SecurityStack, StackError> {
        let mut models = Vec::new();
        if config.drivers.is_empty() {
            models.push(if host.selinux.is_some() {
                Model::Selinux
            } else if host.landlock_abi.is_some() {
                Model::Landlock
            } else {
                Model::None
            });
        }
        for name in &config.drivers {
            let model = match name.as_str() {
                "selinux" if host.selinux.is_some() => Model::Selinux,
                "landlock" if host.landlock_abi.is_some() => Model::Landlock,
                "selinux" | "landlock" => {
                    return Err(StackError::NotEnabled { name: name.clone() })
                }
                "none" => Model::None,
                "dac" => return Err(StackError::DacListed),
                _ => return Err(StackError::NotFound { name: name.clone() }),
            };
            if models.contains(&model) {
                return Err(StackError::Duplicate { name: name.clone() });
            }
            models.push(model);
        }
        if models.len() > 1 && models.contains(&Model::None) {
            return Err(StackError::NoneWithOthers);
        }
        if models == [Model::None] && config.require_confined {
            return Err(StackError::NoneRequireConfined);
        }
        if config.privileged {
            models.push(Model::Dac);
        }
        let mut config = config.clone();
        if models.first() == Some(&Model::None) && config.default_confined {
            if !config.drivers.is_empty() {
                tracing::warn!("Configured security driver \"none\" disables default policy to create confined guests");
            }
            config.default_confined = false;
        }
        if config.guest_ids.is_empty() && models.contains(&Model::Dac) {
            return Err(StackError::EmptyIdRange {
                first: *config.guest_ids.start(),
                last: *config.guest_ids.end(),
            });
        }
        let generator = match (&host.selinux, models.contains(&Model::Selinux)) {
            (Some(ctx), true) => {
                let daemon = ctx.current().map_err(StackError::DaemonContext)?;
                let daemon: Context = daemon.parse().map_err(|e| {
                    StackError::Selinux(SvirtError::InvalidLabel {
                        label: daemon,
                        source: e,
                    })
                })?;
                Some(LabelGenerator::new(daemon, policy.clone()).map_err(StackError::Selinux)?)
            }
            _ => None,
        };
        let boot = if config.remember_owner {
            Some(remember::boot_time(&host.proc_root).map_err(StackError::BootTime)?)
        } else {
            None
        };
        Ok(SecurityStack {
            models,
            selinux: if generator.is_some() {
                host.selinux
            } else {
                None
            },
            held: Mutex::new(Held {
                selinux: generator,
                ids: IdAllocator::new(config.guest_ids.clone()),
            }),
            config,
            proc_root: host.proc_root,
            passwd_root: host.passwd_root,
            boot,
            policy,
            files: Mutex::new(HashMap::new()),
        })
    }

    /// The primary model's name.
    pub fn primary_model(&self) -> &str {
        self.models.first().map_or("none", |m| m.name())
    }

    /// The domain of interpretation, `0`.
    pub fn doi(&self) -> &str {
        "0"
    }

    /// The model names in stack order.
    pub fn model_names(&self) -> Vec<&'static str> {
        self.models.iter().map(|m| m.name()).collect()
    }

    /// One entry per model, for the capabilities' `<secmodel>`s.
    pub fn models(&self) -> Vec<ModelInfo> {
        self.models
            .iter()
            .map(|model| ModelInfo {
                name: model.name().to_owned(),
                doi: "0".to_owned(),
                base_labels: match model {
                    Model::Selinux => {
                        let tcg = self
                            .policy
                            .tcg_domain
                            .as_ref()
                            .unwrap_or(&self.policy.domain);
                        vec![
                            ("kvm".to_owned(), self.policy.domain.to_string()),
                            ("qemu".to_owned(), tcg.to_string()),
                        ]
                    }
                    _ => Vec::new(),
                },
            })
            .collect()
    }

    /// The seclabel `def` gives for `model`; a model-less one belongs to the primary model.
    fn given<'a>(&self, def: &'a Domain, model: Model) -> Option<&'a Seclabel> {
        def.seclabel(model.name()).or_else(|| {
            (self.models.first() == Some(&model))
                .then(|| def.seclabels.iter().find(|l| l.model.is_none()))
                .flatten()
        })
    }

    /// Every model named in `def` (domain, disk and chardev sources) must be `none` or in the
    /// stack.
    fn check_models(&self, def: &Domain) -> Result<(), LabelError> {
        let names = self.model_names();
        let domain = def.seclabels.iter().filter_map(|l| l.model.as_deref());
        let disks = def
            .devices
            .disks
            .iter()
            .flat_map(|d| d.chain())
            .flat_map(|(_, source)| source.seclabels.iter());
        let chardevs = def
            .devices
            .chardevs()
            .flat_map(|(_, c)| c.sources.iter())
            .flat_map(|s| s.seclabels.iter());
        let devices = disks.chain(chardevs).filter_map(|l| l.model.as_deref());
        for model in domain.chain(devices) {
            if model != "none" && !names.contains(&model) {
                return Err(LabelError::ModelNotAvailable {
                    model: model.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The live seclabels for starting `def`: one per model in stack order (none for a `none`
    /// stack unless the domain gives one), with MCS pairs and uids held until
    /// [`SecurityStack::release`].
    ///
    /// Unlike libvirt, `dac` always gets a label (a dynamic one if the domain has none, even
    /// without `default_confined`): every guest runs under a uid of its own.
    pub fn generate(&self, def: &Domain) -> Result<Vec<Seclabel>, LabelError> {
        self.check_models(def)?;
        let accounts = HostAccounts::load(&self.passwd_root)?;
        let mut held = lock(&self.held);
        let mut out: Vec<Seclabel> = Vec::new();
        for &model in &self.models {
            let given = match self.given(def, model) {
                Some(label) => {
                    let mut label = label.clone();
                    label.model = Some(model.name().to_owned());
                    label
                }
                None if model == Model::Dac
                    || self.config.default_confined && model != Model::None =>
                {
                    Seclabel {
                        implicit: true,
                        ..Seclabel::new(SeclabelType::Dynamic, Some(model.name().to_owned()))
                    }
                }
                None => continue,
            };
            if given.kind == SeclabelType::None && self.config.require_confined {
                Self::release_held(&mut held, &out);
                return Err(LabelError::Unconfined);
            }
            let generated = match model {
                Model::Selinux => match held.selinux.as_mut() {
                    Some(generator) => {
                        let virt = match def.kind {
                            DomainType::Kvm => VirtType::Kvm,
                            DomainType::Qemu => VirtType::Qemu,
                        };
                        let request = selinux::request(&given, virt);
                        generator
                            .generate(&request, &mut rand::thread_rng())
                            .map(|label| {
                                for warning in &label.warnings {
                                    tracing::warn!(domain = %def.name, "{warning}");
                                }
                                Seclabel {
                                    label: label.process.map(|c| c.to_string()),
                                    imagelabel: Some(label.image.to_string()),
                                    ..given.clone()
                                }
                            })
                            .map_err(LabelError::from)
                    }
                    None => Err(LabelError::ModelNotAvailable {
                        model: selinux::MODEL.to_owned(),
                    }),
                },
                Model::Dac => dac::generate(def, &given, &mut held.ids, &accounts),
                Model::Landlock => landlock::generate(def, &given),
                Model::None => Ok(given),
            };
            match generated {
                Ok(label) => out.push(label),
                Err(err) => {
                    Self::release_held(&mut held, &out);
                    return Err(err);
                }
            }
        }
        Ok(out)
    }

    fn release_held(held: &mut Held, labels: &[Seclabel]) {
        for label in labels {
            match label.model.as_deref() {
                Some(selinux::MODEL) => {
                    let (Some(generator), Some(process)) =
                        (held.selinux.as_mut(), label.label.as_deref())
                    else {
                        continue;
                    };
                    let Some(level) = process
                        .parse::<Context>()
                        .ok()
                        .and_then(|c| c.range().map(|r| *r.high()))
                    else {
                        continue;
                    };
                    let image = generator.shared_image_label().clone();
                    let guest = GuestLabel {
                        kind: LabelKind::Dynamic,
                        process: None,
                        image,
                        reserved: Some(level),
                        warnings: Vec::new(),
                    };
                    if let Err(err) = generator.release(&guest) {
                        tracing::debug!(label = process, error = %err, "selinux level not held");
                    }
                }
                Some(dac::MODEL) => {
                    if let Some(creds) = label.label.as_deref().and_then(Credentials::parse) {
                        held.ids.release(creds.uid);
                    }
                }
                _ => {}
            }
        }
    }

    /// Gives back the MCS level and uid a stopped guest held.
    pub fn release(&self, labels: &[Seclabel]) {
        Self::release_held(&mut lock(&self.held), labels);
    }

    /// Holds the labels of a guest found running (process `pid`) after a daemon restart: the
    /// MCS level of its live SELinux context and the uid it runs as, which must be its DAC
    /// label's. Nothing stays held on error.
    pub fn reserve_running(&self, labels: &[Seclabel], pid: i32) -> Result<(), LabelError> {
        let mut held = lock(&self.held);
        let mut done: Vec<Seclabel> = Vec::new();
        for label in labels {
            let result = match label.model.as_deref() {
                Some(selinux::MODEL) if label.kind != SeclabelType::None => {
                    self.reserve_selinux(&mut held, label, pid)
                }
                Some(dac::MODEL) if label.kind != SeclabelType::None => {
                    self.reserve_dac(&mut held, label, pid)
                }
                _ => Ok(None),
            };
            match result {
                Ok(Some(reserved)) => done.push(reserved),
                Ok(None) => {}
                Err(err) => {
                    Self::release_held(&mut held, &done);
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn reserve_selinux(
        &self,
        held: &mut Held,
        label: &Seclabel,
        pid: i32,
    ) -> Result<Option<Seclabel>, LabelError> {
        let (Some(ctx), Some(generator)) = (&self.selinux, held.selinux.as_mut()) else {
            return Err(LabelError::ModelNotAvailable {
                model: selinux::MODEL.to_owned(),
            });
        };
        let live = ctx
            .of_pid(pid)
            .map_err(|source| LabelError::ProcessContext { pid, source })?;
        let context: Context = live
            .parse()
            .map_err(|source| LabelError::BadProcessContext {
                pid,
                context: live.clone(),
                source,
            })?;
        Ok(generator.reserve_running(&context)?.map(|_| Seclabel {
            label: Some(live),
            ..label.clone()
        }))
    }

    fn reserve_dac(
        &self,
        held: &mut Held,
        label: &Seclabel,
        pid: i32,
    ) -> Result<Option<Seclabel>, LabelError> {
        let text = label.label.as_deref().unwrap_or_default();
        let creds = Credentials::parse(text).ok_or_else(|| LabelError::BadDacLabel {
            label: text.to_owned(),
        })?;
        let (uids, gids) = dac::process_ids(&self.proc_root, pid)?;
        if uids.iter().any(|&u| u != creds.uid) || gids.iter().any(|&g| g != creds.gid) {
            return Err(LabelError::CredentialsMismatch {
                pid,
                uids,
                gids,
                label: text.to_owned(),
            });
        }
        held.ids.reserve(creds.uid)?;
        Ok(Some(label.clone()))
    }

    /// The uid and gid QEMU runs as, from the `dac` label.
    pub fn credentials(&self, labels: &[Seclabel]) -> Option<Credentials> {
        labels
            .iter()
            .find(|l| l.model.as_deref() == Some(dac::MODEL) && l.kind != SeclabelType::None)
            .and_then(|l| l.label.as_deref())
            .and_then(Credentials::parse)
    }

    /// The SELinux label QEMU is executed under (`/proc/self/attr/exec`), if any.
    pub fn exec_label(&self, labels: &[Seclabel]) -> Option<String> {
        labels
            .iter()
            .find(|l| l.model.as_deref() == Some(selinux::MODEL) && l.kind != SeclabelType::None)
            .and_then(|l| l.label.clone())
    }

    /// The labels process `pid` runs under, one per model in stack order.
    pub fn process_label(&self, labels: &[Seclabel], pid: i32) -> Vec<ProcessLabel> {
        self.models
            .iter()
            .map(|model| {
                let (label, enforcing) = match model {
                    Model::Selinux => match &self.selinux {
                        Some(ctx) => (ctx.of_pid(pid).unwrap_or_default(), ctx.enforcing()),
                        None => (String::new(), false),
                    },
                    Model::Dac => match dac::process_ids(&self.proc_root, pid) {
                        Ok((uids, gids)) => (
                            Credentials {
                                uid: uids[0],
                                gid: gids[0],
                            }
                            .label(),
                            false,
                        ),
                        Err(_) => (String::new(), false),
                    },
                    Model::Landlock => {
                        let label = labels
                            .iter()
                            .find(|l| l.model.as_deref() == Some(landlock::MODEL))
                            .and_then(|l| l.label.clone());
                        let enforcing = label.is_some();
                        (label.unwrap_or_default(), enforcing)
                    }
                    Model::None => (String::new(), false),
                };
                ProcessLabel {
                    model: model.name().to_owned(),
                    label,
                    enforcing,
                }
            })
            .collect()
    }

    /// The steps of every model for every resource, in stack order.
    fn steps(&self, def: &Domain, labels: &[Seclabel]) -> Vec<(Resource, &'static str, Step)> {
        let resources = resources::collect(def);
        let held = lock(&self.held);
        let mut out = Vec::new();
        for model in &self.models {
            let Some(label) = labels
                .iter()
                .find(|l| l.model.as_deref() == Some(model.name()))
            else {
                continue;
            };
            for res in &resources {
                let step = match model {
                    Model::Selinux => match &held.selinux {
                        Some(generator) => selinux::plan(res, label, generator),
                        None => Step::Skip,
                    },
                    Model::Dac => dac::plan(res, label, self.config.dynamic_ownership),
                    Model::Landlock | Model::None => Step::Skip,
                };
                // libvirt labels unix sockets only when they exist (QEMU creates bind sockets).
                let absent_socket = matches!(
                    res.kind,
                    ResourceKind::Chardev {
                        backend: domxml::model::ChardevType::Unix,
                        ..
                    }
                ) && res.path.symlink_metadata().is_err();
                if step != Step::Skip && !absent_socket {
                    out.push((res.clone(), model.name(), step));
                }
            }
        }
        out
    }

    /// Labels every resource of `def` for a guest with the live `labels`, as one transaction:
    /// on error nothing stays changed. Needs root (chown, `security.*` and `trusted.*` xattrs).
    pub fn set_all(&self, def: &Domain, labels: &[Seclabel]) -> Result<Applied, RelabelError> {
        for label in labels
            .iter()
            .filter(|l| l.relabel && l.kind != SeclabelType::None)
        {
            let live = match label.model.as_deref() {
                Some(selinux::MODEL) => label.imagelabel.is_some(),
                Some(dac::MODEL) => label
                    .label
                    .as_deref()
                    .and_then(Credentials::parse)
                    .is_some(),
                _ => true,
            };
            if !live {
                return Err(RelabelError::NotGenerated {
                    model: label.model.clone().unwrap_or_default(),
                });
            }
        }
        let steps = self.steps(def, labels);
        let enforcing = self.selinux.as_ref().is_some_and(|ctx| ctx.enforcing());
        let mut files = lock(&self.files);
        let mut tx = Transaction::new(self.boot, enforcing);
        for (res, model, step) in &steps {
            let mut result = Ok(());
            if matches!(res.kind, ResourceKind::ChardevLog { .. })
                || matches!(
                    res.kind,
                    ResourceKind::Chardev {
                        backend: domxml::model::ChardevType::File,
                        ..
                    }
                )
            {
                result = tx.ensure_file(&res.path);
            }
            for path in res.host_paths() {
                if result.is_err() {
                    break;
                }
                result = tx.apply(&path, model, step);
            }
            if let Err(err) = result {
                tx.rollback();
                return Err(err);
            }
        }
        files.insert(def.uuid, std::mem::take(&mut tx.originals));
        Ok(tx.applied)
    }

    /// Gives the resources of a stopping guest back: remembered labels and owners restored
    /// (by the last guest holding them), ACL entries removed; read-only, shared and backing
    /// images keep their shared labels. Never fails; what it could not do is returned.
    pub fn restore_all(&self, def: &Domain, labels: &[Seclabel]) -> Vec<RestoreWarning> {
        let steps = self.steps(def, labels);
        let mut files = lock(&self.files);
        let originals = files.remove(&def.uuid).unwrap_or_default();
        let mut warnings = Vec::new();
        for (res, model, step) in steps.iter().rev() {
            for path in res.host_paths() {
                let resolved = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                let memory = originals
                    .iter()
                    .find(|o| o.model == *model && o.path == resolved)
                    .map(|o| o.old.as_str());
                relabel::restore(&path, model, step, self.boot, memory, &mut warnings);
            }
        }
        warnings
    }
}

#[cfg(test)]
#[path = "stack_tests.rs"]
mod tests;
