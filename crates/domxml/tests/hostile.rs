//! Hostile input: every bound in `Limits` is enforced with a clear, positioned error, entity
//! tricks are refused, nothing panics or recurses without bound, and a good definition still
//! parses afterwards.

#[cfg(test)]
mod tests {
    use domxml::{parse, Limits, ParseErrorKind, ParseOptions};

    const GOOD: &str = include_str!("corpus/03-virt-install-q35.xml");

    fn kind_of(xml: &str, options: &ParseOptions) -> ParseErrorKind {
        let err = parse(xml, options).expect_err("input must be refused");
        assert!(err.line >= 1 && err.column >= 1, "{err}");
        // The parser holds no state between calls: a good definition still parses.
        parse(GOOD, &ParseOptions::default()).unwrap();
        err.kind
    }

    fn domain_with(devices: &str) -> String {
        format!(
            "<domain type='kvm'><name>h</name><memory>1024</memory><os><type>hvm</type></os>\
             <devices>{devices}</devices></domain>"
        )
    }

    #[test]
    fn documents_over_4_mib_are_refused_before_parsing() {
        let padding = " ".repeat(Limits::DEFAULT.max_document_bytes);
        let xml = format!("<domain type='kvm'>{padding}</domain>");
        let kind = kind_of(&xml, &ParseOptions::default());
        assert_eq!(
            kind,
            ParseErrorKind::DocumentTooLarge {
                size: xml.len(),
                limit: 4 * 1024 * 1024
            }
        );
    }

    #[test]
    fn billion_laughs_is_refused_as_a_doctype() {
        let mut entities = String::from("<!ENTITY a0 'ha'>");
        for i in 1..10 {
            let prev = format!("&a{};", i - 1).repeat(10);
            entities.push_str(&format!("<!ENTITY a{i} '{prev}'>"));
        }
        let xml =
            format!("<!DOCTYPE domain [{entities}]><domain type='kvm'><name>&a9;</name></domain>");
        let err = parse(&xml, &ParseOptions::default()).unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::Doctype);
        assert_eq!((err.line, err.column), (1, 1));
    }

    #[test]
    fn undeclared_entities_are_malformed() {
        let xml = "<domain type='kvm'><name>&xxe;</name></domain>";
        assert!(matches!(
            kind_of(xml, &ParseOptions::default()),
            ParseErrorKind::Malformed(_)
        ));
    }

    #[test]
    fn deep_nesting_is_bounded_without_recursion() {
        for levels in [200, 100_000] {
            let xml = format!(
                "<domain type='kvm'><metadata>{}{}</metadata></domain>",
                "<a>".repeat(levels),
                "</a>".repeat(levels)
            );
            assert_eq!(
                kind_of(&xml, &ParseOptions::default()),
                ParseErrorKind::TooDeep(128)
            );
        }
    }

    #[test]
    fn long_backing_chains_parse_up_to_the_depth_limit() {
        let chain = |layers: usize| {
            let mut inner = String::new();
            for i in (0..layers).rev() {
                inner = format!(
                    "<backingStore type='file'><format type='qcow2'/>\
                     <source file='/img/{i}.qcow2'/>{inner}</backingStore>"
                );
            }
            domain_with(&format!(
                "<disk type='file'><source file='/img/top.qcow2'/>{inner}<target dev='vda'/></disk>"
            ))
        };
        let domain = parse(&chain(100), &ParseOptions::default()).unwrap();
        assert_eq!(domain.devices.disks[0].chain().count(), 101);
        assert_eq!(
            kind_of(&chain(200), &ParseOptions::default()),
            ParseErrorKind::TooDeep(128)
        );
    }

    #[test]
    fn node_count_is_bounded() {
        let options = ParseOptions {
            limits: Limits {
                max_nodes: 1000,
                ..Limits::DEFAULT
            },
            ..ParseOptions::default()
        };
        let xml = domain_with(&"<input type='mouse'/>".repeat(2000));
        assert_eq!(kind_of(&xml, &options), ParseErrorKind::TooManyNodes(1000));
    }

    #[test]
    fn attribute_count_is_bounded() {
        let attrs: String = (0..100).map(|i| format!(" a{i}='x'")).collect();
        let xml = domain_with(&format!(
            "<disk type='file'{attrs}><source file='/x'/><target dev='vda'/></disk>"
        ));
        let err = parse(&xml, &ParseOptions::default()).unwrap_err();
        assert_eq!(
            err.kind,
            ParseErrorKind::TooManyAttributes {
                element: "disk".to_owned(),
                limit: 64
            }
        );
        assert_eq!(err.path, "/domain/devices/disk");
    }

    #[test]
    fn string_lengths_are_bounded() {
        let long = "x".repeat(Limits::DEFAULT.max_string_bytes + 1);
        let xml = format!(
            "<domain type='kvm'><name>{long}</name><memory>1</memory><os><type>hvm</type></os></domain>"
        );
        assert_eq!(
            kind_of(&xml, &ParseOptions::default()),
            ParseErrorKind::StringTooLong {
                what: "<name>".to_owned(),
                limit: 65536
            }
        );
        let xml = domain_with(&format!(
            "<disk type='file'><source file='{long}'/><target dev='vda'/></disk>"
        ));
        let err = parse(&xml, &ParseOptions::default()).unwrap_err();
        assert_eq!(err.path, "/domain/devices/disk/source/@file");
        assert!(
            err.to_string()
                .contains("value of 'file' in <source> is longer"),
            "{err}"
        );
    }

    #[test]
    fn device_counts_are_bounded() {
        let disks: String = (0..1025)
            .map(|i| format!("<disk type='file'><source file='/{i}'/><target dev='d{i}'/></disk>"))
            .collect();
        assert_eq!(
            kind_of(&domain_with(&disks), &ParseOptions::default()),
            ParseErrorKind::TooManyElements {
                element: "disk".to_owned(),
                limit: 1024
            }
        );
    }

    #[test]
    fn garbage_gives_positioned_errors() {
        for input in [
            "",
            "   ",
            "<",
            "<domain",
            "<domain type='kvm'>",
            "<domain type='kvm'></domain>",
            "\u{feff}<domain/>",
            "<?xml version='1.0'?><domain type='kvm'><name>x</name></domain>",
            "<domain type='kvm'><name>x</name><memory>1</memory><os><type>hvm</type></os>\
             <devices><disk type='file'><target/></disk></devices></domain>",
            "<domain type='kvm'><name>x</name><memory unit=''>1</memory></domain>",
            "<domain type='kvm'><name>x</name><memory>99999999999999999999</memory></domain>",
            "<domain type='kvm'><name>x</name><memory>1</memory><os><type>xen</type></os></domain>",
            "<domain type='kvm'><name>x</name><name>y</name></domain>",
        ] {
            let err = parse(input, &ParseOptions::default()).expect_err(input);
            assert!(err.line >= 1 && err.column >= 1, "{input}: {err}");
            assert!(!err.to_string().is_empty());
        }
    }
}
