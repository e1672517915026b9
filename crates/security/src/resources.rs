//! Every host path a guest's QEMU needs, from its definition alone (no I/O).
//!
//! The security models label these paths, and the daemon builds the jail's bind mounts and
//! Landlock rules from the same list, so what one grants the other can see. Rules:
//!
//! | source | kind | access | shared |
//! |---|---|---|---|
//! | disk top image (file/block) | `Image { layer: Top }` | rw, ro with `<readonly/>` | `<shareable/>` |
//! | disk backing layers | `Image { layer: Backing }` | ro | as the disk |
//! | directory disk | `Image` with `directory` set | as the disk; never relabelled | |
//! | network / volume disks, empty drives | skipped: no local path | | |
//! | `<kernel>`, `<initrd>`, `<dtb>`, `<loader>` | `Kernel`, `Initrd`, `Dtb`, `Loader` | ro | |
//! | `<nvram>` | `Nvram` | rw | |
//! | chardev file/dev/pipe/unix source, chardev `<log file>` | `Chardev` / `ChardevLog` | rw | |
//!
//! A backing layer without per-device `<seclabel>`s of its own inherits the top image's (libvirt
//! lets a disk's override govern its whole chain). A pipe chardev names a base path: QEMU opens
//! `path.in` and `path.out` when both exist, `path` otherwise ([`Resource::host_paths`]).

use std::path::{Path, PathBuf};

use domxml::model::{ChardevRole, ChardevType, DeviceSeclabel, DiskType};
use domxml::Domain;

/// Which layer of a disk's chain an image is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// The image the guest writes to (unless read-only).
    Top,
    /// A layer below it; never written.
    Backing,
}

/// What a resource is to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceKind {
    /// A disk image or host block device.
    Image {
        /// Top or backing layer.
        layer: Layer,
        /// The disk's `<target dev>`.
        target: String,
    },
    /// `<os><kernel>`.
    Kernel,
    /// `<os><initrd>`.
    Initrd,
    /// `<os><dtb>`.
    Dtb,
    /// `<os><loader>`: firmware, readable by policy, never relabelled.
    Loader,
    /// `<os><nvram>`: the guest's firmware variables.
    Nvram,
    /// A chardev's host path.
    Chardev {
        /// serial, console or channel.
        role: ChardevRole,
        /// file, dev, pipe or unix.
        backend: ChardevType,
        /// A unix socket: QEMU creates it itself in `bind` mode, so the jail needs its
        /// directory when it does not exist yet.
        socket: bool,
        /// For unix sockets: whether QEMU listens (`bind`, the default) or connects.
        connect: bool,
    },
    /// A chardev's `<log file>`.
    ChardevLog {
        /// serial, console or channel.
        role: ChardevRole,
    },
}

/// How the guest uses a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read and write.
    ReadWrite,
    /// Read only.
    ReadOnly,
}

/// One host path the guest needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The path as written in the definition.
    pub path: PathBuf,
    /// What it is.
    pub kind: ResourceKind,
    /// How the guest uses it.
    pub access: Access,
    /// Shared with other guests (`<shareable/>`).
    pub shared: bool,
    /// A directory disk (`type='dir'`): reported, never relabelled.
    pub directory: bool,
    /// Per-device `<seclabel>` overrides, by model.
    pub overrides: Vec<DeviceSeclabel>,
}

impl Resource {
    fn new(path: &str, kind: ResourceKind, access: Access) -> Self {
        Self {
            path: PathBuf::from(path),
            kind,
            access,
            shared: false,
            directory: false,
            overrides: Vec::new(),
        }
    }

    /// The override for `model`, if any.
    pub fn override_for(&self, model: &str) -> Option<&DeviceSeclabel> {
        self.overrides
            .iter()
            .find(|label| label.model.as_deref() == Some(model))
    }

    /// Whether this is a disk's top image.
    pub fn is_top_image(&self) -> bool {
        matches!(
            self.kind,
            ResourceKind::Image {
                layer: Layer::Top,
                ..
            }
        )
    }

    /// The paths QEMU opens for this resource, looking at the filesystem for pipes
    /// (`path.in` and `path.out` when both exist, else `path`).
    pub fn host_paths(&self) -> Vec<PathBuf> {
        if let ResourceKind::Chardev {
            backend: ChardevType::Pipe,
            ..
        } = self.kind
        {
            let with = |suffix: &str| {
                let mut name = self.path.clone().into_os_string();
                name.push(suffix);
                PathBuf::from(name)
            };
            let (input, output) = (with(".in"), with(".out"));
            if input.exists() && output.exists() {
                return vec![input, output];
            }
        }
        vec![self.path.clone()]
    }
}

fn local(kind: DiskType) -> bool {
    matches!(kind, DiskType::File | DiskType::Block | DiskType::Dir)
}

/// Every host path of `def`, disks first (each top then its backing layers), then the `<os>`
/// files, then chardevs.
pub fn collect(def: &Domain) -> Vec<Resource> {
    let mut out = Vec::new();
    for disk in &def.devices.disks {
        let top_overrides = disk
            .source
            .as_ref()
            .map(|s| s.seclabels.clone())
            .unwrap_or_default();
        for (index, (kind, source)) in disk.chain().enumerate() {
            let Some(path) = source.path.as_deref().filter(|_| local(kind)) else {
                continue;
            };
            let layer = if index == 0 {
                Layer::Top
            } else {
                Layer::Backing
            };
            let access = if layer == Layer::Top && !disk.readonly {
                Access::ReadWrite
            } else {
                Access::ReadOnly
            };
            let mut overrides = source.seclabels.clone();
            for inherited in &top_overrides {
                if !overrides.iter().any(|own| own.model == inherited.model) {
                    overrides.push(inherited.clone());
                }
            }
            out.push(Resource {
                shared: disk.shareable,
                directory: kind == DiskType::Dir,
                overrides,
                ..Resource::new(
                    path,
                    ResourceKind::Image {
                        layer,
                        target: disk.target.dev.clone(),
                    },
                    access,
                )
            });
        }
    }
    let os = &def.os;
    for (path, kind) in [
        (os.kernel.as_deref(), ResourceKind::Kernel),
        (os.initrd.as_deref(), ResourceKind::Initrd),
        (os.dtb.as_deref(), ResourceKind::Dtb),
        (
            os.loader.as_ref().and_then(|l| l.path.as_deref()),
            ResourceKind::Loader,
        ),
    ] {
        if let Some(path) = path {
            out.push(Resource::new(path, kind, Access::ReadOnly));
        }
    }
    if let Some(path) = os.nvram.as_ref().and_then(|n| n.path.as_deref()) {
        out.push(Resource::new(path, ResourceKind::Nvram, Access::ReadWrite));
    }
    for (role, chardev) in def.devices.chardevs() {
        if chardev.kind.has_host_path() {
            for source in &chardev.sources {
                let Some(path) = source.path.as_deref() else {
                    continue;
                };
                let kind = ResourceKind::Chardev {
                    role,
                    backend: chardev.kind,
                    socket: chardev.kind == ChardevType::Unix,
                    connect: source.mode.as_deref() == Some("connect"),
                };
                out.push(Resource {
                    overrides: source.seclabels.clone(),
                    ..Resource::new(path, kind, Access::ReadWrite)
                });
            }
        }
        if let Some((path, _)) = &chardev.log {
            out.push(Resource::new(
                path,
                ResourceKind::ChardevLog { role },
                Access::ReadWrite,
            ));
        }
    }
    out
}

/// The resources whose path is `path`.
pub fn find<'a>(resources: &'a [Resource], path: &Path) -> impl Iterator<Item = &'a Resource> {
    let path = path.to_owned();
    resources.iter().filter(move |r| r.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = "<domain type='kvm'>
  <name>g</name>
  <memory unit='MiB'>64</memory>
  <os>
    <type arch='x86_64'>hvm</type>
    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>
    <nvram>/var/lib/moat/nvram/g_VARS.fd</nvram>
    <kernel>/boot/vmlinuz</kernel>
    <initrd>/boot/initrd.img</initrd>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/img/top.qcow2'>
        <seclabel model='selinux' relabel='no'/>
      </source>
      <backingStore type='file'>
        <format type='qcow2'/>
        <source file='/img/mid.qcow2'/>
        <backingStore type='file'>
          <format type='raw'/>
          <source file='/img/base.raw'>
            <seclabel model='selinux'><label>system_u:object_r:svirt_image_t:s0</label></seclabel>
          </source>
        </backingStore>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/img/install.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <disk type='block' device='disk'>
      <source dev='/dev/mapper/shared'/>
      <target dev='vdb' bus='virtio'/>
      <shareable/>
    </disk>
    <disk type='network' device='disk'>
      <source protocol='nbd' name='x'><host name='h' port='10809'/></source>
      <target dev='vdc' bus='virtio'/>
    </disk>
    <disk type='dir' device='disk'>
      <source dir='/srv/tree'/>
      <target dev='vdd' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='/var/log/moat/g.serial'/>
      <target port='0'/>
    </serial>
    <console type='pty'/>
    <channel type='unix'>
      <source mode='connect' path='/run/moat/g.agent'/>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <channel type='pipe'>
      <source path='/run/moat/g.pipe'/>
      <target type='virtio' name='p'/>
    </channel>
  </devices>
</domain>";

    fn domain() -> Domain {
        domxml::parse(XML, &domxml::ParseOptions::default()).unwrap()
    }

    #[test]
    fn disks_chains_os_files_and_chardevs() {
        let resources = collect(&domain());
        let summary: Vec<(&str, Access, bool)> = resources
            .iter()
            .map(|r| (r.path.to_str().unwrap(), r.access, r.shared))
            .collect();
        assert_eq!(
            summary,
            [
                ("/img/top.qcow2", Access::ReadWrite, false),
                ("/img/mid.qcow2", Access::ReadOnly, false),
                ("/img/base.raw", Access::ReadOnly, false),
                ("/img/install.iso", Access::ReadOnly, false),
                ("/dev/mapper/shared", Access::ReadWrite, true),
                ("/srv/tree", Access::ReadWrite, false),
                ("/boot/vmlinuz", Access::ReadOnly, false),
                ("/boot/initrd.img", Access::ReadOnly, false),
                ("/usr/share/OVMF/OVMF_CODE.fd", Access::ReadOnly, false),
                ("/var/lib/moat/nvram/g_VARS.fd", Access::ReadWrite, false),
                ("/var/log/moat/g.serial", Access::ReadWrite, false),
                ("/run/moat/g.agent", Access::ReadWrite, false),
                ("/run/moat/g.pipe", Access::ReadWrite, false),
            ]
        );
        assert!(resources[0].is_top_image());
        assert_eq!(
            resources[1].kind,
            ResourceKind::Image {
                layer: Layer::Backing,
                target: "vda".into()
            }
        );
        assert!(resources[5].directory);
        assert_eq!(resources[8].kind, ResourceKind::Loader);
        assert_eq!(
            resources[11].kind,
            ResourceKind::Chardev {
                role: ChardevRole::Channel,
                backend: ChardevType::Unix,
                socket: true,
                connect: true
            }
        );
    }

    #[test]
    fn backing_layers_inherit_the_top_override_unless_they_have_their_own() {
        let resources = collect(&domain());
        assert!(!resources[0].override_for("selinux").unwrap().relabel);
        assert!(!resources[1].override_for("selinux").unwrap().relabel);
        let own = resources[2].override_for("selinux").unwrap();
        assert!(own.relabel);
        assert_eq!(
            own.label.as_deref(),
            Some("system_u:object_r:svirt_image_t:s0")
        );
        assert!(resources[3].override_for("selinux").is_none());
    }

    #[test]
    fn pipes_expand_to_in_and_out_when_both_exist() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("p");
        let pipe = Resource::new(
            base.to_str().unwrap(),
            ResourceKind::Chardev {
                role: ChardevRole::Channel,
                backend: ChardevType::Pipe,
                socket: false,
                connect: false,
            },
            Access::ReadWrite,
        );
        assert_eq!(pipe.host_paths(), std::slice::from_ref(&base));
        std::fs::write(dir.path().join("p.in"), b"").unwrap();
        std::fs::write(dir.path().join("p.out"), b"").unwrap();
        assert_eq!(
            pipe.host_paths(),
            [dir.path().join("p.in"), dir.path().join("p.out")]
        );
        assert_eq!(find(std::slice::from_ref(&pipe), &base).count(), 1);
    }
}
