//! Security set-up and restore of one guest (issue 6; target: ≤ 5 ms for a guest with 4 disks).
//!
//! Cases (run as root: they chown files and write `security.selinux` and `trusted.*` xattrs on
//! real files in a temporary directory):
//! - `security/dac_landlock_4_disks/start_stop`: the default stack on a host without SELinux
//!   (landlock + dac): generate the labels (a fresh uid), label and hand over 4 writable disks
//!   with remembered owners, then restore them and release the labels;
//! - `security/selinux_dac_4_disks/start_stop`: the same with the selinux model first (the
//!   daemon's SELinux context simulated, files labelled for real): an MCS pair per run too;
//! - `security/cgroup/create_remove`: the guest's cgroup (v1 memory, pids, cpu, devices, or v2)
//!   created with its limits and removed again.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use security::{FakeContext, HostSecurity, ProcessContext, SecurityConfig, SecurityStack};

fn guest(dir: &Path) -> (domxml::Domain, Vec<PathBuf>) {
    let mut disks = String::new();
    let mut files = Vec::new();
    for (i, dev) in ["vda", "vdb", "vdc", "vdd"].iter().enumerate() {
        let path = dir.join(format!("disk{i}.img"));
        std::fs::write(&path, b"").expect("create disk");
        std::os::unix::fs::chown(&path, Some(4242), Some(4242)).expect("chown disk");
        disks.push_str(&format!(
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
             <source file='{}'/><target dev='{dev}' bus='virtio'/></disk>",
            path.display()
        ));
        files.push(path);
    }
    let xml = format!(
        "<domain type='kvm'><name>bench</name><uuid>40000000-0000-4000-8000-000000000001</uuid>\
         <memory unit='MiB'>256</memory><os><type arch='x86_64'>hvm</type></os>\
         <devices>{disks}</devices></domain>"
    );
    let def = domxml::parse(&xml, &domxml::ParseOptions::default()).expect("parse");
    (def, files)
}

fn stack(drivers: &[&str], selinux: bool) -> SecurityStack {
    let config = SecurityConfig {
        drivers: drivers.iter().map(|d| (*d).to_owned()).collect(),
        guest_ids: 1_900_000..=1_965_535,
        privileged: true,
        ..SecurityConfig::default()
    };
    let host = HostSecurity {
        selinux: selinux.then(|| {
            Box::new(FakeContext::new("system_u:system_r:virtd_t:s0-s0:c0.c1023"))
                as Box<dyn ProcessContext>
        }),
        landlock_abi: Some(6),
        proc_root: PathBuf::from("/proc"),
        passwd_root: PathBuf::from("/"),
    };
    SecurityStack::new(&config, host).expect("stack")
}

fn start_stop(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (def, _files) = guest(dir.path());
    let mut group = c.benchmark_group("security");
    for (name, drivers, selinux) in [
        ("dac_landlock_4_disks", &["landlock"][..], false),
        ("selinux_dac_4_disks", &["selinux"][..], true),
    ] {
        let stack = stack(drivers, selinux);
        group.bench_function(format!("{name}/start_stop"), |b| {
            b.iter(|| {
                let labels = stack.generate(&def).expect("generate");
                stack.set_all(&def, &labels).expect("set_all");
                let warnings = stack.restore_all(&def, &labels);
                assert!(warnings.is_empty(), "{warnings:?}");
                stack.release(&labels);
            })
        });
    }
    let limits = jail::cgroup::CgroupLimits {
        memory_bytes: Some(1 << 30),
        pids: Some(1024),
        cpu_weight: None,
        devices: Vec::new(),
    };
    let parent = format!("moat-bench-{}", std::process::id());
    group.bench_function("cgroup/create_remove", |b| {
        b.iter(|| {
            let cgroup = jail::cgroup::GuestCgroup::create(
                Path::new("/sys/fs/cgroup"),
                &parent,
                "bench",
                &limits,
            )
            .expect("create cgroup");
            cgroup.remove().expect("remove cgroup");
        })
    });
    group.finish();
    for controller in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let _ = std::fs::remove_dir(controller.path().join(&parent));
    }
}

criterion_group!(benches, start_stop);
criterion_main!(benches);
