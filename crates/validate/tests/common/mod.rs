//! Fixture roots shared by the integration tests: a host that breaks most of the guide and one
//! that follows it.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

pub fn write(root: &Path, path: &str, text: &str) {
    let real = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(real.parent().expect("parent")).expect("mkdir");
    fs::write(real, text).expect("write");
}

pub fn link(root: &Path, path: &str, target: &str) {
    let real = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(real.parent().expect("parent")).expect("mkdir");
    symlink(target, real).expect("symlink");
}

fn guest(name: &str, body: &str) -> String {
    format!(
        "<domain type='kvm'>\n  <name>{name}</name>\n  <memory unit='MiB'>512</memory>\n  \
         <os><type arch='x86_64'>hvm</type></os>\n  <devices>\n{body}\n  </devices>\n</domain>\n"
    )
}

/// A root that breaks the guide in every way a file can show.
pub fn bad_host(root: &Path) {
    write(
        root,
        "/etc/fstab",
        "LABEL=root / xfs defaults 0 0\nUUID=1 /boot xfs defaults 0 0\n",
    );
    write(
        root,
        "/etc/default/grub",
        "GRUB_CMDLINE_LINUX=\"root=LABEL=root selinux=0\"\n",
    );
    write(
        root,
        "/etc/selinux/config",
        "SELINUX=permissive\nSELINUXTYPE=targeted\n",
    );
    write(
        root,
        "/etc/selinux/targeted/active/booleans.local",
        "virt_use_execmem=1\n",
    );
    write(
        root,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
    );
    write(root, "/etc/group", "root:x:0:\nalice:x:1000:\n");
    link(
        root,
        "/etc/systemd/system/multi-user.target.wants/autofs.service",
        "/usr/lib/systemd/system/autofs.service",
    );
    link(
        root,
        "/etc/systemd/system/sockets.target.wants/telnet.socket",
        "/usr/lib/systemd/system/telnet.socket",
    );
    link(
        root,
        "/etc/systemd/system/multi-user.target.wants/nftables.service",
        "/usr/lib/systemd/system/nftables.service",
    );
    write(
        root,
        "/etc/nftables.conf",
        "table inet filter {\n  chain input {\n    type filter hook input priority 0; policy accept;\n  }\n}\n",
    );
    write(
        root,
        "/etc/libvirt/libvirtd.conf",
        "#access_drivers = [ \"polkit\" ]\n",
    );
    write(
        root,
        "/etc/libvirt/qemu.conf",
        "security_driver = \"none\"\n",
    );
    write(
        root,
        "/etc/lvm/lvm.conf",
        "devices {\n  dir = \"/dev\"\n}\n",
    );
    write(
        root,
        "/etc/libvirt/qemu/whole.xml",
        &guest(
            "whole",
            "    <disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='vdb' bus='virtio'/></disk>\n\
             <disk type='file' device='disk'><source file='/home/alice/disk.qcow2'/><target dev='vda' bus='virtio'/></disk>",
        ),
    );
    write(
        root,
        "/var/lib/moat/domains/part.xml",
        &guest(
            "part",
            "    <disk type='block' device='disk'><source dev='/dev/sdb1'/><target dev='vdb' bus='virtio'/></disk>\n\
             <disk type='block' device='disk'><source dev='/dev/vg0/part'/><target dev='vdc' bus='virtio'/></disk>",
        )
        .replace(
            "</devices>",
            "</devices>\n  <seclabel type='none' model='selinux'/>",
        ),
    );
}

/// A root that follows the guide wherever files can show it.
pub fn good_host(root: &Path) {
    write(root, "/etc/fstab", "UUID=1 / xfs defaults 0 0\n");
    write(
        root,
        "/etc/default/grub",
        "GRUB_CMDLINE_LINUX=\"root=UUID=1 quiet\"\n",
    );
    write(
        root,
        "/etc/selinux/config",
        "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
    );
    write(
        root,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\nqemu:x:107:107::/:/sbin/nologin\n",
    );
    write(root, "/etc/group", "root:x:0:\nwheel:x:10:admin\n");
    link(root, "/etc/systemd/system/autofs.service", "/dev/null");
    link(
        root,
        "/etc/systemd/system/multi-user.target.wants/firewalld.service",
        "/usr/lib/systemd/system/firewalld.service",
    );
    write(root, "/etc/firewalld/firewalld.conf", "DefaultZone=drop\n");
    write(
        root,
        "/etc/moat/moatd.toml",
        "access_drivers = [\"rules\"]\nunix_sock_rw_perms = \"0770\"\n",
    );
    write(
        root,
        "/etc/lvm/lvm.conf",
        "devices {\n  global_filter = [ \"a|^/dev/sda2$|\", \"r|.*|\" ]\n}\n",
    );
    write(
        root,
        "/var/lib/moat/domains/web.xml",
        &guest(
            "web",
            "    <disk type='block' device='disk'><source dev='/dev/sdb1'/><target dev='vdb' bus='virtio'/></disk>\n\
             <disk type='file' device='disk'><source file='/var/lib/moat/images/web.qcow2'/><target dev='vda' bus='virtio'/></disk>",
        )
        .replace(
            "</devices>",
            "</devices>\n  <seclabel type='dynamic' model='selinux'/>",
        ),
    );
}
