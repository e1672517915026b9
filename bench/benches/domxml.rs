//! Domain XML benchmarks (issue 12): parse, format, and the two together, as moatd does for every
//! `defineXML` and every `dumpXML`.
//!
//! Cases, each on a document of the domxml test corpus (read at compile time):
//! - `domxml/parse/<doc>`: `domxml::parse` with default options (non-strict, inactive XML);
//! - `domxml/format/<doc>`: `domxml::format` of the parsed model (inactive, no secrets);
//! - `domxml/parse_format/<doc>`: both, text to model to text.
//!
//! Documents: `minimal` (01-minimal.xml, 115 bytes), `virt_install_q35` (03-virt-install-q35.xml,
//! the XML virt-install writes for a q35 guest, ~5.6 kB), `many_disks` (08-many-disks.xml).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use domxml::{format, parse, FormatOptions, ParseOptions};

const DOCS: [(&str, &str); 3] = [
    (
        "minimal",
        include_str!("../../crates/domxml/tests/corpus/01-minimal.xml"),
    ),
    (
        "virt_install_q35",
        include_str!("../../crates/domxml/tests/corpus/03-virt-install-q35.xml"),
    ),
    (
        "many_disks",
        include_str!("../../crates/domxml/tests/corpus/08-many-disks.xml"),
    ),
];

fn domxml(c: &mut Criterion) {
    let parse_options = ParseOptions::default();
    let format_options = FormatOptions::default();
    for (name, xml) in DOCS {
        let domain = parse(xml, &parse_options).expect("the corpus parses");
        let mut group = c.benchmark_group("domxml");
        group.throughput(Throughput::Bytes(u64::try_from(xml.len()).expect("small")));
        group.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| parse(black_box(xml), &parse_options).expect("parses"))
        });
        group.bench_function(format!("format/{name}"), |b| {
            b.iter(|| format(black_box(&domain), &format_options))
        });
        group.bench_function(format!("parse_format/{name}"), |b| {
            b.iter(|| {
                let domain = parse(black_box(xml), &parse_options).expect("parses");
                format(&domain, &format_options)
            })
        });
        group.finish();
    }
}

criterion_group!(benches, domxml);
criterion_main!(benches);
