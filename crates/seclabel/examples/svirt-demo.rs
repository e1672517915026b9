//! Shows the labels sVirt would give a few demo guests on this host.
//!
//! The daemon context is this process's own (`/proc/self/attr/current`); on a host without
//! SELinux it falls back to the context libvirtd runs under on RHEL,
//! `system_u:system_r:virtd_t:s0-s0:c0.c1023`. The policy's base contexts come from
//! `/etc/selinux/targeted/contexts/` when present, else the targeted policy's defaults.

use std::error::Error;
use std::time::Instant;

use seclabel::svirt::{LabelGenerator, LabelKind, LabelRequest, SvirtPolicy, VirtType};
use seclabel::{Context, McsAllocator, McsSpan};

const FALLBACK_DAEMON: &str = "system_u:system_r:virtd_t:s0-s0:c0.c1023";
const POLICY_DIR: &str = "/etc/selinux/targeted/contexts";

fn daemon_context() -> (Context, &'static str) {
    let own = std::fs::read_to_string("/proc/self/attr/current")
        .ok()
        .map(|s| s.trim_end_matches(['\0', '\n']).to_owned())
        .and_then(|s| s.parse::<Context>().ok());
    match own {
        Some(ctx) => (ctx, "this process"),
        None => (
            FALLBACK_DAEMON.parse().expect("valid built-in context"),
            "fallback: SELinux is not enabled here",
        ),
    }
}

fn policy() -> Result<(SvirtPolicy, String), Box<dyn Error>> {
    let domain = std::fs::read_to_string(format!("{POLICY_DIR}/virtual_domain_context"));
    let image = std::fs::read_to_string(format!("{POLICY_DIR}/virtual_image_context"));
    Ok(match (domain, image) {
        (Ok(d), Ok(i)) => (SvirtPolicy::from_files(&d, &i)?, POLICY_DIR.to_owned()),
        _ => (
            SvirtPolicy::targeted(),
            "built-in targeted defaults".to_owned(),
        ),
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let (daemon, source) = daemon_context();
    let (policy, policy_source) = policy()?;
    println!("daemon context: {daemon} ({source})");
    println!("policy contexts: {policy_source}");
    let mut generator = LabelGenerator::new(daemon, policy)?;
    println!(
        "MCS span: {} ({} pairs)\n",
        generator.allocator().span(),
        generator.allocator().span().pair_count()
    );

    let mut rng = rand::thread_rng();
    let mut baselabel = LabelRequest::new(LabelKind::Dynamic, VirtType::Kvm);
    baselabel.baselabel = Some("system_u:system_r:my_svirt_t:s0");
    let mut fixed = LabelRequest::new(LabelKind::Static, VirtType::Kvm);
    fixed.label = Some("system_u:system_r:svirt_t:s0:c392,c662");
    let guests = [
        (
            "web (kvm, dynamic)",
            LabelRequest::new(LabelKind::Dynamic, VirtType::Kvm),
        ),
        (
            "build (qemu/tcg, dynamic)",
            LabelRequest::new(LabelKind::Dynamic, VirtType::Qemu),
        ),
        ("custom (dynamic + baselabel)", baselabel),
        ("db (static)", fixed),
        (
            "legacy (none)",
            LabelRequest::new(LabelKind::None, VirtType::Kvm),
        ),
    ];
    for (name, request) in guests {
        let label = generator.generate(&request, &mut rng)?;
        println!("{name}");
        match &label.process {
            Some(process) => println!("  process: {process}"),
            None => println!("  process: (not relabelled)"),
        }
        println!("  images:  {}", label.image);
        for warning in &label.warnings {
            println!("  warning: {warning}");
        }
    }
    println!(
        "\nshared writable images: {}",
        generator.shared_image_label()
    );
    println!("read-only content:      {}", generator.readonly_label());

    // A second static guest on the same label would not be isolated: refused.
    let mut clash = LabelRequest::new(LabelKind::Static, VirtType::Kvm);
    clash.label = Some("system_u:system_r:svirt_t:s0:c392");
    if let Err(err) = generator.generate(&clash, &mut rng) {
        println!("\nstatic s0:c392 next to s0:c392,c662 is refused: {err}");
    }

    let mut allocator = McsAllocator::new(McsSpan::full());
    let start = Instant::now();
    let mut count = 0usize;
    let err = loop {
        match allocator.allocate(&mut rng) {
            Ok(_) => count += 1,
            Err(err) => break err,
        }
    };
    println!(
        "\nallocated all {count} pairs of c0.c1023 in {:.0?}; then: {err}",
        start.elapsed()
    );
    Ok(())
}
