//! Access-check benchmarks (issue 7; DESIGN.md target: one decision ≤ 1 µs with 1,000 grants).
//!
//! Cases:
//! - `acl/rules_1000_grants/allowed`: a subject matched by 1 of 1,000 per-user grants asks for
//!   `domain:read` on a guest its glob covers (after its first check has cached its rules);
//! - `acl/rules_1000_grants/denied_default`: the same subject on a guest no grant covers;
//! - `acl/rules_1000_grants/group_member`: a subject in a group shared by 100 of the grants;
//! - `acl/annotation_ensure_dumpxml`: a whole `DOMAIN_GET_XML_DESC` check (annotation with flag
//!   conditions) through the stack.

use std::sync::Arc;

use acl::{AccessStack, AclAnnotation, Permission, Rules, RulesDriver, Subject, Target};
use criterion::{criterion_group, criterion_main, Criterion};
use uuid::Uuid;

fn thousand_grants() -> String {
    let mut text = String::from(
        "[roles]\nviewer = [\"connect:getattr\", \"domain:getattr\", \"domain:read\"]\n",
    );
    for i in 0..1000 {
        text.push_str(&format!(
            "[[grant]]\nusers = [\"user{i}\"]\ngroups = [\"team{}\"]\nrole = \"viewer\"\n\
             domains = [\"guest{i}-*\", \"shared-{i}\"]\n",
            i % 10
        ));
    }
    text
}

fn subject(i: usize) -> Subject {
    Subject {
        uid: Some(10_000 + u32::try_from(i).expect("small")),
        user: Some(format!("user{i}")),
        groups: vec![format!("user{i}")],
        ..Subject::default()
    }
}

fn checks(c: &mut Criterion) {
    let rules = Rules::parse(&thousand_grants()).expect("valid rules");
    let driver = RulesDriver::new(rules);
    let read: Permission = "domain:read".parse().expect("valid");
    let alice = subject(500);
    let mine = Target::domain("guest500-web", Uuid::nil());
    let other = Target::domain("guest501-web", Uuid::nil());
    assert!(driver.explain(&alice, &mine, read).allowed);
    assert!(!driver.explain(&alice, &other, read).allowed);
    let mut group = c.benchmark_group("acl/rules_1000_grants");
    group.bench_function("allowed", |b| {
        b.iter(|| driver.explain(&alice, &mine, read))
    });
    group.bench_function("denied_default", |b| {
        b.iter(|| driver.explain(&alice, &other, read))
    });
    let member = Subject {
        groups: vec!["team3".into()],
        ..Subject::default()
    };
    let shared = Target::domain("shared-503", Uuid::nil());
    assert!(driver.explain(&member, &shared, read).allowed);
    group.bench_function("group_member", |b| {
        b.iter(|| driver.explain(&member, &shared, read))
    });
    group.finish();

    let stack = AccessStack::new(vec![Arc::new(driver)]);
    let dumpxml = AclAnnotation::parse(
        "domain:read,domain:read_secure:VIR_DOMAIN_XML_SECURE,\
         domain:read_secure:VIR_DOMAIN_XML_MIGRATABLE",
    )
    .expect("valid annotation");
    c.bench_function("acl/annotation_ensure_dumpxml", |b| {
        b.iter(|| stack.ensure(&alice, &dumpxml, 0, &mine))
    });
}

criterion_group!(benches, checks);
criterion_main!(benches);
