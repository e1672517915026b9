//! The parsers read whatever a host's files hold: none of them may panic, whatever the input.

use proptest::prelude::*;

use super::{assignments, boot, firewall, kernel_params, lvm, network, storage};

/// Text made of the characters the parsers split on, so that the interesting paths are hit.
fn config_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9 =\"'#;{}\\[\\],|/:.\\-_\n\t*^$()]{0,200}")
        .expect("valid regex")
}

proptest! {
    #[test]
    fn shell_and_kernel_parsers_never_panic(text in config_text()) {
        let _ = assignments(&text);
        let _ = kernel_params(&text);
        let _ = boot::is_label_reference(&text);
    }

    #[test]
    fn firewall_parsers_never_panic(text in config_text()) {
        let _ = firewall::nft_coverage(&text);
        let _ = firewall::iptables_rejects(&text);
    }

    #[test]
    fn lvm_parser_and_filters_never_panic(text in config_text(), device in "/dev/[a-z0-9/]{0,12}") {
        for setting in lvm::parse(&text) {
            if let lvm::LvmValue::List(entries) = setting.value {
                if let Ok(filter) = lvm::compile_filter(&entries) {
                    let _ = lvm::judge(&filter, &[device.as_str()]);
                }
            }
        }
    }

    #[test]
    fn proc_net_and_device_names_never_panic(text in config_text(), name in "[a-z0-9/]{0,20}") {
        let _ = network::parse_table("tcp6", &text);
        let _ = network::parse_table("udp", &text);
        let _ = storage::classify_name(&name);
    }
}
