//! The labels sVirt's `selinux` model gives a guest, for each `<seclabel>` type.
//!
//! Inputs: the daemon's own context, the policy's base contexts ([`SvirtPolicy`], from
//! `contexts/virtual_domain_context` and `contexts/virtual_image_context`), and what the domain
//! asks for ([`LabelRequest`]). Output: a [`GuestLabel`] with the process label QEMU is executed
//! under and the image label for its resources.
//!
//! | type | process label | image label | MCS level reserved |
//! |---|---|---|---|
//! | dynamic | `svirt_t` (`svirt_tcg_t` for `<domain type='qemu'>`) with a fresh pair | `svirt_image_t`, same pair | the pair |
//! | dynamic + baselabel | the baselabel's type only, with a fresh pair | `svirt_image_t`, same pair | the pair |
//! | static | the label exactly | `svirt_image_t` with the label's range | the label's level |
//! | none | not relabelled | `svirt_image_t:s0` | none |
//!
//! Generated contexts take the daemon's SELinux user; process labels also take the daemon's role,
//! image labels keep the policy's (`object_r`). Unlike libvirt, static labels are reserved too, so
//! no dynamic guest is ever given a pair comparable with a static guest's level.

use rand::Rng;

use crate::context::{Context, ContextError, Identifier};
use crate::mcs::{McsAllocator, McsError, McsSpan};
use crate::mls::{Level, Range};

/// The model name these labels belong to.
pub const MODEL: &str = "selinux";

/// Longest label file accepted, in bytes (libvirt reads at most 2048).
pub const POLICY_FILE_MAX_LEN: usize = 2048;

/// Why a guest's labels could not be generated, reserved or released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SvirtError {
    /// A dynamic seclabel that already carries a `<label>`.
    #[error("security label already defined for VM")]
    LabelAlreadyDefined,
    /// A seclabel that already carries an `<imagelabel>`.
    #[error("security image label already defined for VM")]
    ImageLabelAlreadyDefined,
    /// A seclabel for another model.
    #[error("security label model {model} is not supported with selinux")]
    ModelNotSupported {
        /// The model asked for.
        model: String,
    },
    /// A static seclabel without `<label>`.
    #[error("security label is missing")]
    LabelMissing,
    /// A static label that is not a valid context.
    #[error("invalid security label {label}")]
    InvalidLabel {
        /// The label text.
        label: String,
        /// What is wrong with it.
        #[source]
        source: ContextError,
    },
    /// A baselabel without a valid type.
    #[error("invalid security base label {label}")]
    InvalidBaseLabel {
        /// The baselabel text.
        label: String,
        /// What is wrong with it.
        #[source]
        source: ContextError,
    },
    /// A policy label file that is empty, too long, or not a context.
    #[error("invalid SELinux policy file {file}")]
    PolicyFile {
        /// Which file.
        file: &'static str,
        /// What is wrong with it.
        #[source]
        source: PolicyFileError,
    },
    /// The label's MCS level could not be allocated or reserved.
    #[error(transparent)]
    Mcs(#[from] McsError),
    /// A running guest's label could not be reserved again at start-up.
    #[error("MCS level for existing domain label {label} already reserved")]
    ReserveRunning {
        /// The running guest's process label.
        label: String,
        /// Why.
        #[source]
        source: McsError,
    },
}

/// What is wrong with a policy label file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyFileError {
    /// More than [`POLICY_FILE_MAX_LEN`] bytes.
    #[error("longer than {POLICY_FILE_MAX_LEN} bytes")]
    TooLong,
    /// A required line is missing.
    #[error("line {line} is missing")]
    MissingLine {
        /// The 1-based line number.
        line: usize,
    },
    /// A line is not a context.
    #[error("line {line} is not a security context")]
    BadContext {
        /// The 1-based line number.
        line: usize,
        /// Why.
        #[source]
        source: ContextError,
    },
}

/// Something generation did that the administrator should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SvirtWarning {
    /// A TCG guest got the KVM domain type because the policy names no TCG type.
    NoTcgDomainType,
    /// A static label whose level every guest label dominates: not reserved, not isolated.
    StaticNotIsolated {
        /// The static label.
        label: String,
    },
}

impl std::fmt::Display for SvirtWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoTcgDomainType => f.write_str(
                "SELinux policy does not define a domain type for QEMU TCG. Guest startup may be \
                 denied due to missing 'execmem' privilege unless the 'virt_use_execmem' policy \
                 boolean is enabled",
            ),
            Self::StaticNotIsolated { label } => write!(
                f,
                "static label {label} has no categories of its own: every confined guest may \
                 access its resources"
            ),
        }
    }
}

/// The policy's base contexts for guests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvirtPolicy {
    /// Process type for KVM guests (`system_u:system_r:svirt_t:s0`).
    pub domain: Context,
    /// Process type for TCG guests (`svirt_tcg_t`), when the policy has one.
    pub tcg_domain: Option<Context>,
    /// Image type, also the label of shared writable images (`svirt_image_t:s0`).
    pub image: Context,
    /// Read-only content type (`virt_content_t:s0`).
    pub content: Context,
}

impl SvirtPolicy {
    /// The contexts of the targeted policy on RHEL, Fedora and Debian.
    pub fn targeted() -> Self {
        let parse = |text: &str| text.parse().expect("built-in contexts are valid");
        Self {
            domain: parse("system_u:system_r:svirt_t:s0"),
            tcg_domain: Some(parse("system_u:system_r:svirt_tcg_t:s0")),
            image: parse("system_u:object_r:svirt_image_t:s0"),
            content: parse("system_u:object_r:virt_content_t:s0"),
        }
    }

    /// Reads the contents of `virtual_domain_context` (line 1 domain, optional line 2 TCG domain)
    /// and `virtual_image_context` (line 1 image, line 2 content).
    pub fn from_files(domain_file: &str, image_file: &str) -> Result<Self, SvirtError> {
        let domain_lines = policy_lines("virtual_domain_context", domain_file, 1)?;
        let image_lines = policy_lines("virtual_image_context", image_file, 2)?;
        let mut domain = domain_lines.into_iter();
        let mut image = image_lines.into_iter();
        let take = |it: &mut std::vec::IntoIter<Context>| it.next().expect("counted above");
        Ok(Self {
            domain: take(&mut domain),
            tcg_domain: domain.next(),
            image: take(&mut image),
            content: take(&mut image),
        })
    }
}

/// The first two lines of a label file as contexts; at least `required` of them.
fn policy_lines(
    file: &'static str,
    text: &str,
    required: usize,
) -> Result<Vec<Context>, SvirtError> {
    let fail = |source| SvirtError::PolicyFile { file, source };
    if text.len() > POLICY_FILE_MAX_LEN {
        return Err(fail(PolicyFileError::TooLong));
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().take(2).enumerate() {
        let line = line.trim();
        if line.is_empty() {
            break;
        }
        let context = line.parse().map_err(|source| {
            fail(PolicyFileError::BadContext {
                line: i + 1,
                source,
            })
        })?;
        out.push(context);
    }
    if out.len() < required {
        return Err(fail(PolicyFileError::MissingLine {
            line: out.len() + 1,
        }));
    }
    Ok(out)
}

/// How the guest's process and images are labelled (`<seclabel type=…>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    /// A fresh MCS pair per run.
    Dynamic,
    /// The label given in the domain.
    Static,
    /// Not confined.
    None,
}

/// Whether the guest runs under KVM or TCG (`<domain type=…>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtType {
    /// Hardware virtualization.
    Kvm,
    /// QEMU's TCG emulator, which needs `execmem`.
    Qemu,
}

/// A domain's `<seclabel>` for model `selinux`, as given.
#[derive(Debug, Clone, Copy)]
pub struct LabelRequest<'a> {
    /// The label type.
    pub kind: LabelKind,
    /// The `model` attribute, if given.
    pub model: Option<&'a str>,
    /// `<label>`.
    pub label: Option<&'a str>,
    /// `<imagelabel>`.
    pub imagelabel: Option<&'a str>,
    /// `<baselabel>`.
    pub baselabel: Option<&'a str>,
    /// The domain's virtualization type.
    pub virt_type: VirtType,
}

impl<'a> LabelRequest<'a> {
    /// A plain request of `kind` for a domain of `virt_type`.
    pub fn new(kind: LabelKind, virt_type: VirtType) -> Self {
        Self {
            kind,
            model: None,
            label: None,
            imagelabel: None,
            baselabel: None,
            virt_type,
        }
    }
}

/// The labels one guest runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestLabel {
    /// The label type they were generated for.
    pub kind: LabelKind,
    /// QEMU's process label; `None` for type `none`.
    pub process: Option<Context>,
    /// The label of the guest's own images.
    pub image: Context,
    /// The MCS level held for this guest, released with [`LabelGenerator::release`].
    pub reserved: Option<Level>,
    /// What the administrator should hear about.
    pub warnings: Vec<SvirtWarning>,
}

/// Generates and tracks the labels of a daemon's guests.
#[derive(Debug)]
pub struct LabelGenerator {
    daemon: Context,
    policy: SvirtPolicy,
    allocator: McsAllocator,
}

impl LabelGenerator {
    /// A generator for a daemon running under `daemon`.
    pub fn new(daemon: Context, policy: SvirtPolicy) -> Result<Self, SvirtError> {
        let span = McsSpan::from_process_context(&daemon)?;
        Ok(Self {
            daemon,
            policy,
            allocator: McsAllocator::new(span),
        })
    }

    /// The allocator behind dynamic labels.
    pub fn allocator(&self) -> &McsAllocator {
        &self.allocator
    }

    /// The label of images shared writable between guests (`svirt_image_t:s0`).
    pub fn shared_image_label(&self) -> &Context {
        &self.policy.image
    }

    /// The label of read-only content such as backing files and CD-ROMs (`virt_content_t:s0`).
    pub fn readonly_label(&self) -> &Context {
        &self.policy.content
    }

    /// Generates the labels for a guest about to start, holding its MCS level.
    pub fn generate<R: Rng + ?Sized>(
        &mut self,
        request: &LabelRequest<'_>,
        rng: &mut R,
    ) -> Result<GuestLabel, SvirtError> {
        if request.kind == LabelKind::Dynamic && request.label.is_some() {
            return Err(SvirtError::LabelAlreadyDefined);
        }
        if request.imagelabel.is_some() {
            return Err(SvirtError::ImageLabelAlreadyDefined);
        }
        if let Some(model) = request.model.filter(|&m| m != MODEL) {
            return Err(SvirtError::ModelNotSupported {
                model: model.to_owned(),
            });
        }
        match request.kind {
            LabelKind::Dynamic => self.generate_dynamic(request, rng),
            LabelKind::Static => self.generate_static(request),
            LabelKind::None => {
                let range = Range::single(Level::new(
                    self.daemon_low_sensitivity(),
                    Default::default(),
                ));
                Ok(GuestLabel {
                    kind: LabelKind::None,
                    process: None,
                    image: self.object_context(&self.policy.image, range),
                    reserved: None,
                    warnings: Vec::new(),
                })
            }
        }
    }

    fn generate_dynamic<R: Rng + ?Sized>(
        &mut self,
        request: &LabelRequest<'_>,
        rng: &mut R,
    ) -> Result<GuestLabel, SvirtError> {
        let mut warnings = Vec::new();
        let process_type = match (
            request.baselabel,
            request.virt_type,
            &self.policy.tcg_domain,
        ) {
            (Some(base), _, _) => {
                Context::type_of(base).map_err(|source| SvirtError::InvalidBaseLabel {
                    label: base.to_owned(),
                    source,
                })?
            }
            (None, VirtType::Qemu, Some(tcg)) => tcg.type_().clone(),
            (None, VirtType::Qemu, None) => {
                warnings.push(SvirtWarning::NoTcgDomainType);
                self.policy.domain.type_().clone()
            }
            (None, VirtType::Kvm, _) => self.policy.domain.type_().clone(),
        };
        let level = self.allocator.allocate(rng)?;
        let range = Range::single(level);
        Ok(GuestLabel {
            kind: LabelKind::Dynamic,
            process: Some(self.process_context(process_type, range)),
            image: self.object_context(&self.policy.image, range),
            reserved: Some(level),
            warnings,
        })
    }

    fn generate_static(&mut self, request: &LabelRequest<'_>) -> Result<GuestLabel, SvirtError> {
        let text = request.label.ok_or(SvirtError::LabelMissing)?;
        let label: Context = text.parse().map_err(|source| SvirtError::InvalidLabel {
            label: text.to_owned(),
            source,
        })?;
        let mut warnings = Vec::new();
        let mut reserved = None;
        if let Some(range) = label.range() {
            match self.allocator.reserve(range.high()) {
                Ok(()) => reserved = Some(*range.high()),
                Err(McsError::NotIsolated { .. }) => {
                    warnings.push(SvirtWarning::StaticNotIsolated {
                        label: text.to_owned(),
                    });
                }
                Err(err) => return Err(err.into()),
            }
        }
        let image = match label.range() {
            Some(range) => self.object_context(&self.policy.image, *range),
            None => self.policy.image.with_user(label.user().clone()),
        };
        Ok(GuestLabel {
            kind: LabelKind::Static,
            process: Some(label),
            image,
            reserved,
            warnings,
        })
    }

    /// Gives back the MCS level a guest held.
    pub fn release(&mut self, label: &GuestLabel) -> Result<(), SvirtError> {
        if let Some(level) = &label.reserved {
            self.allocator.release(level)?;
        }
        Ok(())
    }

    /// Reserves the level of a guest found running at start-up, from its live process label.
    /// Returns the level held, if the label has one.
    pub fn reserve_running(&mut self, process: &Context) -> Result<Option<Level>, SvirtError> {
        let Some(range) = process.range() else {
            return Ok(None);
        };
        let level = *range.high();
        match self.allocator.reserve(&level) {
            Ok(()) => Ok(Some(level)),
            Err(McsError::NotIsolated { .. }) => Ok(None),
            Err(source) => Err(SvirtError::ReserveRunning {
                label: process.to_string(),
                source,
            }),
        }
    }

    fn daemon_low_sensitivity(&self) -> crate::mls::Sensitivity {
        self.daemon
            .range()
            .map(|r| r.low().sensitivity)
            .unwrap_or_default()
    }

    /// A process label: the daemon's user and role, `type_`, `range`.
    fn process_context(&self, type_: Identifier, range: Range) -> Context {
        Context::new(
            self.daemon.user().clone(),
            self.daemon.role().clone(),
            type_,
            Some(range),
        )
    }

    /// An object label: the daemon's user, `base`'s role and type, `range`.
    fn object_context(&self, base: &Context, range: Range) -> Context {
        base.with_user(self.daemon.user().clone()).with_range(range)
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    const DAEMON: &str = "system_u:system_r:virtd_t:s0-s0:c0.c1023";

    fn generator(daemon: &str) -> LabelGenerator {
        LabelGenerator::new(daemon.parse().unwrap(), SvirtPolicy::targeted()).unwrap()
    }

    fn rng() -> StdRng {
        StdRng::seed_from_u64(11)
    }

    fn pair_of(ctx: &Context) -> Level {
        *ctx.range().unwrap().low()
    }

    #[test]
    fn dynamic_label_gets_a_fresh_pair_on_process_and_image() {
        let mut g = generator(DAEMON);
        let req = LabelRequest::new(LabelKind::Dynamic, VirtType::Kvm);
        let label = g.generate(&req, &mut rng()).unwrap();
        let process = label.process.clone().unwrap();
        assert_eq!(process.user().as_str(), "system_u");
        assert_eq!(process.role().as_str(), "system_r");
        assert_eq!(process.type_().as_str(), "svirt_t");
        assert_eq!(label.image.role().as_str(), "object_r");
        assert_eq!(label.image.type_().as_str(), "svirt_image_t");
        assert_eq!(pair_of(&process), pair_of(&label.image));
        assert_eq!(pair_of(&process).categories.len(), 2);
        assert_eq!(label.reserved, Some(pair_of(&process)));
        assert!(label.warnings.is_empty());
        assert_eq!(g.allocator().allocated(), 1);
        g.release(&label).unwrap();
        assert_eq!(g.allocator().allocated(), 0);
    }

    #[test]
    fn user_and_role_come_from_the_daemon() {
        let mut g = generator("unconfined_u:unconfined_r:unconfined_t:s0");
        let label = g
            .generate(
                &LabelRequest::new(LabelKind::Dynamic, VirtType::Kvm),
                &mut rng(),
            )
            .unwrap();
        let text = label.process.unwrap().to_string();
        assert!(
            text.starts_with("unconfined_u:unconfined_r:svirt_t:s0:c"),
            "{text}"
        );
        assert!(label
            .image
            .to_string()
            .starts_with("unconfined_u:object_r:svirt_image_t:s0:c"));
    }

    #[test]
    fn tcg_guests_get_the_tcg_type_or_a_warning() {
        let mut g = generator(DAEMON);
        let req = LabelRequest::new(LabelKind::Dynamic, VirtType::Qemu);
        let label = g.generate(&req, &mut rng()).unwrap();
        assert_eq!(label.process.unwrap().type_().as_str(), "svirt_tcg_t");

        let mut policy = SvirtPolicy::targeted();
        policy.tcg_domain = None;
        let mut g = LabelGenerator::new(DAEMON.parse().unwrap(), policy).unwrap();
        let label = g.generate(&req, &mut rng()).unwrap();
        assert_eq!(label.process.unwrap().type_().as_str(), "svirt_t");
        assert_eq!(label.warnings, vec![SvirtWarning::NoTcgDomainType]);
        assert!(label.warnings[0].to_string().contains("virt_use_execmem"));
    }

    #[test]
    fn baselabel_keeps_only_its_type() {
        let mut g = generator(DAEMON);
        for base in [
            "system_u:system_r:my_svirt_t:s0",
            "system_u:system_r:my_svirt_t:xxxxxx",
            "xxxxxx:xxxxxx:my_svirt_t:s0",
        ] {
            let mut req = LabelRequest::new(LabelKind::Dynamic, VirtType::Qemu);
            req.baselabel = Some(base);
            let label = g.generate(&req, &mut rng()).unwrap();
            let process = label.process.clone().unwrap();
            assert_eq!(process.user().as_str(), "system_u");
            assert_eq!(process.role().as_str(), "system_r");
            assert_eq!(process.type_().as_str(), "my_svirt_t");
            assert_eq!(label.image.type_().as_str(), "svirt_image_t");
            g.release(&label).unwrap();
        }
        let mut req = LabelRequest::new(LabelKind::Dynamic, VirtType::Kvm);
        req.baselabel = Some("xxxxxx");
        let err = g.generate(&req, &mut rng()).unwrap_err();
        assert_eq!(err.to_string(), "invalid security base label xxxxxx");
        assert_eq!(g.allocator().allocated(), 0);
    }

    #[test]
    fn static_label_is_exact_and_reserved() {
        let mut g = generator(DAEMON);
        let mut req = LabelRequest::new(LabelKind::Static, VirtType::Kvm);
        req.label = Some("system_u:system_r:svirt_t:s0:c392,c662");
        let label = g.generate(&req, &mut rng()).unwrap();
        assert_eq!(
            label.process.as_ref().unwrap().to_string(),
            "system_u:system_r:svirt_t:s0:c392,c662"
        );
        assert_eq!(
            label.image.to_string(),
            "system_u:object_r:svirt_image_t:s0:c392,c662"
        );
        assert!(g.allocator().is_live(&"s0:c392,c662".parse().unwrap()));
        // A second guest on the same static label would share its images.
        let err = g.generate(&req, &mut rng()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "MCS level s0:c392,c662 is already reserved"
        );
        g.release(&label).unwrap();
        g.generate(&req, &mut rng()).unwrap();
    }

    #[test]
    fn static_label_without_categories_warns() {
        let mut g = generator(DAEMON);
        let mut req = LabelRequest::new(LabelKind::Static, VirtType::Kvm);
        req.label = Some("system_u:system_r:svirt_t:s0");
        let label = g.generate(&req, &mut rng()).unwrap();
        assert_eq!(label.reserved, None);
        assert!(matches!(
            label.warnings.as_slice(),
            [SvirtWarning::StaticNotIsolated { .. }]
        ));
    }

    #[test]
    fn none_label_leaves_the_process_alone() {
        let mut g = generator(DAEMON);
        let label = g
            .generate(
                &LabelRequest::new(LabelKind::None, VirtType::Kvm),
                &mut rng(),
            )
            .unwrap();
        assert_eq!(label.process, None);
        assert_eq!(
            label.image.to_string(),
            "system_u:object_r:svirt_image_t:s0"
        );
        assert_eq!(label.reserved, None);
        assert_eq!(
            g.shared_image_label().to_string(),
            "system_u:object_r:svirt_image_t:s0"
        );
        assert_eq!(
            g.readonly_label().to_string(),
            "system_u:object_r:virt_content_t:s0"
        );
    }

    #[test]
    fn precondition_errors_match_libvirt() {
        let mut g = generator(DAEMON);
        let mut req = LabelRequest::new(LabelKind::Dynamic, VirtType::Kvm);
        req.label = Some("system_u:system_r:svirt_t:s0:c1,c2");
        assert_eq!(
            g.generate(&req, &mut rng()).unwrap_err().to_string(),
            "security label already defined for VM"
        );
        let mut req = LabelRequest::new(LabelKind::Static, VirtType::Kvm);
        req.label = Some("system_u:system_r:svirt_t:s0:c1,c2");
        req.imagelabel = Some("system_u:object_r:svirt_image_t:s0:c1,c2");
        assert_eq!(
            g.generate(&req, &mut rng()).unwrap_err().to_string(),
            "security image label already defined for VM"
        );
        let mut req = LabelRequest::new(LabelKind::Dynamic, VirtType::Kvm);
        req.model = Some("apparmor");
        assert_eq!(
            g.generate(&req, &mut rng()).unwrap_err().to_string(),
            "security label model apparmor is not supported with selinux"
        );
        let req = LabelRequest::new(LabelKind::Static, VirtType::Kvm);
        assert_eq!(
            g.generate(&req, &mut rng()).unwrap_err().to_string(),
            "security label is missing"
        );
        let mut req = LabelRequest::new(LabelKind::Static, VirtType::Kvm);
        req.label = Some("svirt_t:s0:c450,c560");
        assert_eq!(
            g.generate(&req, &mut rng()).unwrap_err().to_string(),
            "invalid security label svirt_t:s0:c450,c560"
        );
        assert_eq!(g.allocator().allocated(), 0);
    }

    #[test]
    fn running_guests_are_reserved_again() {
        let mut g = generator(DAEMON);
        let running: Context = "system_u:system_r:svirt_t:s0:c87,c520".parse().unwrap();
        assert_eq!(
            g.reserve_running(&running).unwrap(),
            Some("s0:c87,c520".parse().unwrap())
        );
        let err = g.reserve_running(&running).unwrap_err();
        assert_eq!(
            err.to_string(),
            "MCS level for existing domain label system_u:system_r:svirt_t:s0:c87,c520 already reserved"
        );
        assert_eq!(g.reserve_running(&"u:r:t".parse().unwrap()).unwrap(), None);
    }

    #[test]
    fn policy_files_are_read_like_libvirt() {
        let policy = SvirtPolicy::from_files(
            "system_u:system_r:svirt_t:s0\nsystem_u:system_r:svirt_tcg_t:s0\n",
            "system_u:object_r:svirt_image_t:s0\nsystem_u:object_r:virt_content_t:s0\n",
        )
        .unwrap();
        assert_eq!(policy, SvirtPolicy::targeted());
        let policy = SvirtPolicy::from_files(
            "system_u:system_r:svirt_t:s0\n",
            "system_u:object_r:svirt_image_t:s0\nsystem_u:object_r:virt_content_t:s0",
        )
        .unwrap();
        assert_eq!(policy.tcg_domain, None);
        let err = SvirtPolicy::from_files("", "").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid SELinux policy file virtual_domain_context"
        );
        let err = SvirtPolicy::from_files("a:b:c", "a:b:c\n").unwrap_err();
        assert!(matches!(
            err,
            SvirtError::PolicyFile {
                file: "virtual_image_context",
                source: PolicyFileError::MissingLine { line: 2 }
            }
        ));
        let err = SvirtPolicy::from_files("bad", "a:b:c\na:b:c").unwrap_err();
        assert!(matches!(
            err,
            SvirtError::PolicyFile {
                source: PolicyFileError::BadContext { line: 1, .. },
                ..
            }
        ));
        let long = "x".repeat(3000);
        assert!(matches!(
            SvirtPolicy::from_files(&long, "a:b:c\na:b:c"),
            Err(SvirtError::PolicyFile {
                source: PolicyFileError::TooLong,
                ..
            })
        ));
    }
}
