//! `firewall-default-reject`: incoming traffic ends in drop or reject, for IPv4 and IPv6.
//!
//! Live, the loaded rules are read with `nft list ruleset`, or with `iptables-save` and
//! `ip6tables-save` where nft is missing or holds no input chain. Offline (or live without
//! those tools), the configuration of the firewall service that is enabled is read instead:
//! firewalld's default zone, `/etc/nftables.conf` (and the RHEL and `/etc/nftables/` variants),
//! or the iptables-services / iptables-persistent rule files.
//!
//! A packet must pass every base chain on the input hook and a drop anywhere is final, so a
//! family is default-reject when some input chain has `policy drop` or ends in an
//! unconditional `drop`/`reject` rule; firewalld's own nft rules keep `policy accept` and end
//! in a reject, so the policy alone would not do. For iptables: `:INPUT DROP` or a last
//! `-A INPUT -j REJECT|DROP` without matches.

use super::services::enabled_link;
use super::Check;
use crate::check::{error_chain, CheckInfo, Finding, Location, Status};
use crate::host::Host;
use crate::root::RootError;

/// `firewall-default-reject`.
pub static DEFAULT_REJECT: Check = Check {
    info: CheckInfo {
        id: "firewall-default-reject",
        title: "Host firewall rejects incoming traffic by default",
        guide: "2.2.1",
        rationale: "The guide asks for a firewall with default-reject rules to restrict traffic to the host \
(2.2.1): whatever is not explicitly allowed never reaches a service on the host, which guards it \
from attacks from the network and from its own guests' networks.",
        remediation: "End the input path in drop or reject. firewalld: `firewall-cmd --set-default-zone=drop` \
(or keep a zone without target ACCEPT) and list only the services needed. nftables: give the \
input chain `policy drop;` after accepting established traffic, loopback and what is needed, \
and enable nftables.service. iptables: `iptables -P INPUT DROP` and `ip6tables -P INPUT DROP` \
(or a final `-A INPUT -j REJECT`), saved so that they survive a reboot. On a host where moatd \
runs and no other firewall does, moatd's `host_firewall = \"default-reject\"` (with \
`host_allowed_tcp_ports`) does this in its own nftables table.",
        live_only: false,
    },
    run: default_reject,
};

/// Whether each address family's input path ends in drop or reject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Coverage {
    /// Some input chain was seen for IPv4 / IPv6.
    pub seen_v4: bool,
    pub seen_v6: bool,
    /// It ends in drop/reject.
    pub rejects_v4: bool,
    pub rejects_v6: bool,
}

impl Coverage {
    fn add(&mut self, v4: bool, v6: bool, rejects: bool) {
        self.seen_v4 |= v4;
        self.seen_v6 |= v6;
        self.rejects_v4 |= v4 && rejects;
        self.rejects_v6 |= v6 && rejects;
    }

    fn merge(&mut self, other: Coverage) {
        self.seen_v4 |= other.seen_v4;
        self.seen_v6 |= other.seen_v6;
        self.rejects_v4 |= other.rejects_v4;
        self.rejects_v6 |= other.rejects_v6;
    }

    fn seen(&self) -> bool {
        self.seen_v4 || self.seen_v6
    }
}

/// One base chain on the input hook.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InputChain {
    family: String,
    policy_drop: bool,
    last_rule: Option<String>,
}

/// The input base chains of an nft ruleset (`nft list ruleset` or a `nft -f` file).
fn nft_input_chains(text: &str) -> Vec<InputChain> {
    // Tokenise with statement ends (newline, `;`) and braces kept.
    let mut chains = Vec::new();
    // Stack of open blocks: (kind, family) where kind is table/chain/other.
    let mut stack: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, bool, bool, Vec<String>)> = None;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let spaced = line
            .replace('{', " { ")
            .replace('}', " } ")
            .replace(';', " ; ");
        let mut words: Vec<String> = Vec::new();
        let flush = |words: &mut Vec<String>,
                     current: &mut Option<(String, bool, bool, Vec<String>)>| {
            if words.is_empty() {
                return;
            }
            let statement = std::mem::take(words);
            if let Some((_, hook_input, policy_drop, rules)) = current.as_mut() {
                match statement.first().map(String::as_str) {
                    Some("type") => {
                        *hook_input |= statement
                            .windows(2)
                            .any(|pair| pair[0] == "hook" && pair[1] == "input");
                    }
                    Some("policy") => {
                        *policy_drop = statement.get(1).is_some_and(|policy| policy == "drop");
                    }
                    _ => rules.push(statement.join(" ")),
                }
            }
        };
        for word in spaced.split_whitespace() {
            match word {
                "{" => {
                    let kind = words.first().cloned().unwrap_or_default();
                    let family = if kind == "table" && words.len() >= 3 {
                        words[1].clone()
                    } else if kind == "table" {
                        "ip".to_owned()
                    } else {
                        stack
                            .last()
                            .map(|(_, family)| family.clone())
                            .unwrap_or_default()
                    };
                    if kind == "chain" {
                        current = Some((family.clone(), false, false, Vec::new()));
                    }
                    words.clear();
                    stack.push((kind, family));
                }
                "}" => {
                    flush(&mut words, &mut current);
                    if let Some((kind, _)) = stack.pop() {
                        if kind == "chain" {
                            if let Some((family, true, policy_drop, rules)) = current.take() {
                                chains.push(InputChain {
                                    family,
                                    policy_drop,
                                    last_rule: rules.last().cloned(),
                                });
                            }
                            current = None;
                        }
                    }
                }
                ";" => flush(&mut words, &mut current),
                word => words.push(word.to_owned()),
            }
        }
        flush(&mut words, &mut current);
    }
    chains
}

/// Whether an nft rule drops or rejects every packet that reaches it.
fn nft_rule_is_final_reject(rule: &str) -> bool {
    let mut words = rule.split_whitespace().peekable();
    while let Some(word) = words.next() {
        match word {
            "counter" => {
                // `counter packets N bytes M`
                while words
                    .peek()
                    .is_some_and(|next| matches!(*next, "packets" | "bytes"))
                {
                    words.next();
                    words.next();
                }
            }
            "log" => {
                while words
                    .peek()
                    .is_some_and(|next| matches!(*next, "prefix" | "level" | "flags" | "group"))
                {
                    words.next();
                    words.next();
                }
            }
            "drop" | "reject" => return true,
            _ => return false,
        }
    }
    false
}

pub(crate) fn nft_coverage(text: &str) -> Coverage {
    let mut coverage = Coverage::default();
    for chain in nft_input_chains(text) {
        let (v4, v6) = match chain.family.as_str() {
            "ip" => (true, false),
            "ip6" => (false, true),
            "inet" => (true, true),
            _ => continue,
        };
        let rejects = chain.policy_drop
            || chain
                .last_rule
                .as_deref()
                .is_some_and(nft_rule_is_final_reject);
        coverage.add(v4, v6, rejects);
    }
    coverage
}

/// Whether an `iptables-save` dump's filter table ends INPUT in drop or reject; `None` when
/// it has no INPUT chain.
pub(crate) fn iptables_rejects(text: &str) -> Option<bool> {
    let mut in_filter = false;
    let mut policy_drop = None;
    let mut last_rule: Option<&str> = None;
    for line in text.lines().map(str::trim) {
        if let Some(table) = line.strip_prefix('*') {
            in_filter = table == "filter";
            continue;
        }
        if !in_filter {
            continue;
        }
        if let Some(chain) = line.strip_prefix(":INPUT ") {
            policy_drop = Some(chain.starts_with("DROP"));
        } else if line.starts_with("-A INPUT ") {
            last_rule = Some(line);
        }
    }
    let final_reject = last_rule.is_some_and(|rule| {
        let words: Vec<&str> = rule.split_whitespace().collect();
        let rest = words.get(4..).unwrap_or_default();
        words.len() >= 4
            && words[2] == "-j"
            && matches!(words[3], "REJECT" | "DROP")
            && (rest.is_empty() || (rest.len() == 2 && rest[0] == "--reject-with"))
    });
    policy_drop.map(|drop| drop || final_reject)
}

fn verdict(coverage: Coverage, source: &str, location: Location) -> Finding {
    match (coverage.rejects_v4, coverage.rejects_v6) {
        (true, true) => Finding::at(
            Status::Pass,
            format!("{source}: incoming IPv4 and IPv6 traffic ends in drop or reject"),
            location,
        ),
        (true, false) => Finding::at(
            Status::Warn,
            format!("{source}: IPv4 input ends in drop or reject, IPv6 input does not"),
            location,
        ),
        (false, true) => Finding::at(
            Status::Warn,
            format!("{source}: IPv6 input ends in drop or reject, IPv4 input does not"),
            location,
        ),
        (false, false) => Finding::at(
            Status::Fail,
            format!("{source}: incoming traffic is accepted by default"),
            location,
        ),
    }
}

fn default_reject(host: &Host<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    if host.is_live() {
        if let Some(finding) = loaded_rules(host, &mut findings) {
            findings.push(finding);
            return findings;
        }
    }
    match configured_rules(host) {
        Ok(mut found) => {
            if host.is_live() {
                for finding in &mut found {
                    finding.message.push_str(
                        " (judged from the configuration: no nft or iptables-save to read the loaded rules)",
                    );
                }
            }
            findings.extend(found);
        }
        Err(err) => findings.push(Finding::error(&err)),
    }
    findings
}

/// The verdict on the rules loaded in the kernel, or `None` when no tool could show them.
fn loaded_rules(host: &Host<'_>, findings: &mut Vec<Finding>) -> Option<Finding> {
    let mut run = |program: &str, args: &[&str]| match host.commands.output(program, args) {
        Ok(output) => output,
        Err(err) => {
            findings.push(Finding::new(Status::Error, error_chain(&err)));
            None
        }
    };
    let nft = run("nft", &["list", "ruleset"]);
    if let Some(text) = &nft {
        let coverage = nft_coverage(text);
        if coverage.seen() {
            return Some(verdict(
                coverage,
                "loaded nftables rules",
                Location::file("nft list ruleset"),
            ));
        }
    }
    let v4 = run("iptables-save", &[]);
    let v6 = run("ip6tables-save", &[]);
    if v4.is_none() && v6.is_none() {
        return nft.map(|_| {
            Finding::at(
                Status::Fail,
                "no input filter chain is loaded: incoming traffic is accepted",
                Location::file("nft list ruleset"),
            )
        });
    }
    let coverage = Coverage {
        seen_v4: true,
        seen_v6: true,
        rejects_v4: v4.as_deref().and_then(iptables_rejects).unwrap_or(false),
        rejects_v6: v6.as_deref().and_then(iptables_rejects).unwrap_or(false),
    };
    Some(verdict(
        coverage,
        "loaded iptables rules",
        Location::file("iptables-save"),
    ))
}

const NFT_FILES: [&str; 2] = ["/etc/nftables.conf", "/etc/sysconfig/nftables.conf"];
const IPTABLES_FILES: [(&str, bool); 4] = [
    ("/etc/sysconfig/iptables", false),
    ("/etc/sysconfig/ip6tables", true),
    ("/etc/iptables/rules.v4", false),
    ("/etc/iptables/rules.v6", true),
];

fn configured_rules(host: &Host<'_>) -> Result<Vec<Finding>, RootError> {
    let root = &host.root;
    if let Some(link) = enabled_link(root, "firewalld.service")? {
        return Ok(vec![firewalld(host, &link)?]);
    }
    if let Some(link) = enabled_link(root, "nftables.service")? {
        let mut coverage = Coverage::default();
        let mut files = Vec::new();
        let extra: Vec<String> = root
            .list("/etc/nftables")?
            .into_iter()
            .filter(|entry| entry.name.ends_with(".nft"))
            .map(|entry| entry.path)
            .collect();
        for path in NFT_FILES.iter().map(|path| (*path).to_owned()).chain(extra) {
            if let Some(text) = root.read(&path)? {
                coverage.merge(nft_coverage(&text));
                files.push(path);
            }
        }
        let location = Location::Unit {
            name: "nftables.service".to_owned(),
            path: Some(link),
        };
        if files.is_empty() {
            return Ok(vec![Finding::at(
                Status::Fail,
                "nftables.service is enabled but no ruleset file was found",
                location,
            )]);
        }
        return Ok(vec![verdict(coverage, &files.join(", "), location)]);
    }
    for unit in ["iptables.service", "netfilter-persistent.service"] {
        let Some(link) = enabled_link(root, unit)? else {
            continue;
        };
        let mut coverage = Coverage {
            seen_v4: true,
            seen_v6: true,
            ..Coverage::default()
        };
        let mut files = Vec::new();
        for (path, v6) in IPTABLES_FILES {
            if let Some(rejects) = root.read(path)?.as_deref().and_then(iptables_rejects) {
                files.push(path);
                if v6 {
                    coverage.rejects_v6 |= rejects;
                } else {
                    coverage.rejects_v4 |= rejects;
                }
            }
        }
        return Ok(vec![verdict(
            coverage,
            &files.join(", "),
            Location::Unit {
                name: unit.to_owned(),
                path: Some(link),
            },
        )]);
    }
    Ok(vec![Finding::new(
        Status::Fail,
        "no firewall service is enabled (firewalld, nftables, iptables)",
    )])
}

/// firewalld: the default zone's target. Zones without a target reject what no rule allows.
fn firewalld(host: &Host<'_>, link: &str) -> Result<Finding, RootError> {
    let root = &host.root;
    let conf = "/etc/firewalld/firewalld.conf";
    let mut zone = "public".to_owned();
    let mut location = Location::Unit {
        name: "firewalld.service".to_owned(),
        path: Some(link.to_owned()),
    };
    if let Some(text) = root.read(conf)? {
        if let Some(assignment) = super::assignments(&text)
            .into_iter()
            .find(|assignment| assignment.key == "DefaultZone")
        {
            zone = assignment.value;
            location = Location::line(conf, assignment.line);
        }
    }
    let mut target = match zone.as_str() {
        "drop" => Some("DROP".to_owned()),
        "block" => Some("%%REJECT%%".to_owned()),
        "trusted" => Some("ACCEPT".to_owned()),
        _ => None,
    };
    for dir in ["/etc/firewalld/zones", "/usr/lib/firewalld/zones"] {
        let path = format!("{dir}/{zone}.xml");
        if let Some(text) = root.read(&path)? {
            target = text.split("target=").nth(1).and_then(|rest| {
                let quote = rest.chars().next()?;
                rest.get(1..)?.split(quote).next().map(str::to_owned)
            });
            break;
        }
    }
    Ok(match target.as_deref() {
        Some("ACCEPT") => Finding::at(
            Status::Fail,
            format!("firewalld default zone {zone} accepts all incoming traffic (target ACCEPT)"),
            location,
        ),
        Some(target) => Finding::at(
            Status::Pass,
            format!("firewalld default zone {zone} has target {target}"),
            location,
        ),
        None => Finding::at(
            Status::Pass,
            format!(
                "firewalld default zone {zone} rejects what its rules do not allow (no target)"
            ),
            location,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{has, Fixture};
    use super::*;

    const NFT_DROP: &str = "#!/usr/sbin/nft -f\nflush ruleset\n\
table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\
\t\tct state established,related accept\n\t\tiif \"lo\" accept\n\t\ttcp dport 22 accept\n\t}\n\
\tchain forward { type filter hook forward priority 0; policy accept; }\n}\n";

    const NFT_ACCEPT: &str =
        "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority 0;\n\t}\n}\n";

    const NFT_FINAL_REJECT: &str = "table inet firewalld {\n\tchain filter_INPUT {\n\
\t\ttype filter hook input priority filter + 10; policy accept;\n\t\tct state established,related accept\n\
\t\tjump filter_INPUT_ZONES\n\t\treject with icmpx admin-prohibited\n\t}\n}\n";

    #[test]
    fn nft_policy_drop_and_final_reject_count() {
        assert_eq!(
            nft_coverage(NFT_DROP),
            Coverage {
                seen_v4: true,
                seen_v6: true,
                rejects_v4: true,
                rejects_v6: true
            }
        );
        assert!(nft_coverage(NFT_FINAL_REJECT).rejects_v6);
        let accept = nft_coverage(NFT_ACCEPT);
        assert!(accept.seen() && !accept.rejects_v4);
        let v4_only = nft_coverage(
            "table ip f { chain i { type filter hook input priority 0; policy drop; } }",
        );
        assert!(v4_only.rejects_v4 && !v4_only.seen_v6);
        assert!(nft_rule_is_final_reject("counter packets 3 bytes 120 drop"));
        assert!(!nft_rule_is_final_reject("tcp dport 22 drop"));
    }

    /// `nft list ruleset` on a host where only moatd's tables stand, with its host firewall on
    /// (`host_firewall = "default-reject"`, no network running).
    const NFT_MOAT_HOST_FIREWALL: &str = "table inet moat {\n\tchain input {\n\
\t\ttype filter hook input priority filter; policy drop;\n\t\tiifname \"lo\" accept\n\
\t\tct state invalid drop\n\t\tct state established,related accept\n\
\t\ticmp type { destination-unreachable, echo-request, time-exceeded, parameter-problem } accept\n\
\t\ticmpv6 type { destination-unreachable, packet-too-big, echo-request, nd-neighbor-solicit, nd-neighbor-advert } accept\n\
\t\ttcp dport { 22, 16514 } accept\n\
\t\tlimit rate 5/second burst 10 packets log prefix \"moat-input-drop: \"\n\t}\n\n\
\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t}\n}\n\
table bridge moat {\n\tchain spoofed {\n\
\t\tlimit rate 10/second burst 20 packets log prefix \"moat-spoof: \"\n\t\tdrop\n\t}\n\n\
\tchain prerouting {\n\t\ttype filter hook prerouting priority filter; policy accept;\n\t}\n}\n";

    /// The same with the host firewall off and a network running: only the bridge is judged.
    const NFT_MOAT_BRIDGES_ONLY: &str = "table inet moat {\n\tchain input {\n\
\t\ttype filter hook input priority filter; policy accept;\n\
\t\tiifname \"moatbr0\" ct state established,related accept\n\
\t\tiifname \"moatbr0\" limit rate 5/second burst 10 packets log prefix \"moat-host-drop: \"\n\
\t\tiifname \"moatbr0\" drop\n\t}\n}\n\
table bridge moat {\n\tchain spoofed {\n\t\tdrop\n\t}\n}\n";

    #[test]
    fn moats_own_rules_pass_only_with_its_host_firewall() {
        assert_eq!(
            nft_coverage(NFT_MOAT_HOST_FIREWALL),
            Coverage {
                seen_v4: true,
                seen_v6: true,
                rejects_v4: true,
                rejects_v6: true
            }
        );
        let bridges_only = nft_coverage(NFT_MOAT_BRIDGES_ONLY);
        assert!(bridges_only.seen() && !bridges_only.rejects_v4 && !bridges_only.rejects_v6);
        let mut fixture = Fixture::live();
        fixture.commands =
            crate::host::ScriptedCommands::none().with_output("nft", NFT_MOAT_HOST_FIREWALL);
        let result = fixture.expect(&DEFAULT_REJECT, Status::Pass);
        assert!(has(&result, Status::Pass, "IPv4 and IPv6"));
        fixture.commands =
            crate::host::ScriptedCommands::none().with_output("nft", NFT_MOAT_BRIDGES_ONLY);
        let result = fixture.expect(&DEFAULT_REJECT, Status::Fail);
        assert!(has(&result, Status::Fail, "accepted by default"));
    }

    #[test]
    fn iptables_policy_or_final_rule() {
        assert_eq!(
            iptables_rejects("*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n"),
            Some(true)
        );
        assert_eq!(
            iptables_rejects("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n"),
            Some(true)
        );
        assert_eq!(
            iptables_rejects("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j DROP\nCOMMIT\n"),
            Some(false)
        );
        assert_eq!(iptables_rejects("*nat\n:PREROUTING ACCEPT\nCOMMIT\n"), None);
    }

    fn enable(fixture: &Fixture, unit: &str) {
        fixture.link(
            &format!("/etc/systemd/system/multi-user.target.wants/{unit}"),
            &format!("/usr/lib/systemd/system/{unit}"),
        );
    }

    #[test]
    fn offline_nftables_with_and_without_final_drop() {
        let fixture = Fixture::offline();
        enable(&fixture, "nftables.service");
        fixture.file("/etc/sysconfig/nftables.conf", NFT_DROP);
        fixture.expect(&DEFAULT_REJECT, Status::Pass);
        let fixture = Fixture::offline();
        enable(&fixture, "nftables.service");
        fixture.file("/etc/nftables.conf", NFT_ACCEPT);
        let result = fixture.expect(&DEFAULT_REJECT, Status::Fail);
        assert!(has(&result, Status::Fail, "accepted by default"));
    }

    #[test]
    fn offline_without_firewall_service_fails() {
        let fixture = Fixture::offline();
        fixture.file("/etc/nftables.conf", NFT_DROP);
        let result = fixture.expect(&DEFAULT_REJECT, Status::Fail);
        assert!(has(&result, Status::Fail, "no firewall service is enabled"));
    }

    #[test]
    fn firewalld_zones() {
        let fixture = Fixture::offline();
        enable(&fixture, "firewalld.service");
        fixture.file("/etc/firewalld/firewalld.conf", "DefaultZone=public\n");
        fixture.expect(&DEFAULT_REJECT, Status::Pass);
        fixture.file("/etc/firewalld/firewalld.conf", "DefaultZone=trusted\n");
        let result = fixture.expect(&DEFAULT_REJECT, Status::Fail);
        assert_eq!(
            result.findings[0].location,
            Some(Location::line("/etc/firewalld/firewalld.conf", 1))
        );
        fixture
            .file("/etc/firewalld/firewalld.conf", "DefaultZone=custom\n")
            .file(
                "/etc/firewalld/zones/custom.xml",
                "<?xml version=\"1.0\"?>\n<zone target=\"ACCEPT\"><short>c</short></zone>\n",
            );
        fixture.expect(&DEFAULT_REJECT, Status::Fail);
    }

    #[test]
    fn offline_iptables_services() {
        let fixture = Fixture::offline();
        enable(&fixture, "iptables.service");
        fixture
            .file(
                "/etc/sysconfig/iptables",
                "*filter\n:INPUT DROP [0:0]\nCOMMIT\n",
            )
            .file(
                "/etc/sysconfig/ip6tables",
                "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n",
            );
        fixture.expect(&DEFAULT_REJECT, Status::Warn);
    }

    #[test]
    fn live_reads_the_loaded_rules() {
        let mut fixture = Fixture::live();
        fixture.commands = crate::host::ScriptedCommands::none().with_output("nft", NFT_DROP);
        fixture.expect(&DEFAULT_REJECT, Status::Pass);
        fixture.commands = crate::host::ScriptedCommands::none()
            .with_output("nft", "")
            .with_output("iptables-save", "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")
            .with_output("ip6tables-save", "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n");
        fixture.expect(&DEFAULT_REJECT, Status::Fail);
    }

    #[test]
    fn live_without_tools_falls_back_to_configuration() {
        let fixture = Fixture::live();
        enable(&fixture, "nftables.service");
        fixture.file("/etc/nftables.conf", NFT_DROP);
        let result = fixture.expect(&DEFAULT_REJECT, Status::Pass);
        assert!(has(&result, Status::Pass, "judged from the configuration"));
    }

    #[test]
    fn live_tool_failure_is_an_error() {
        let mut fixture = Fixture::live();
        fixture.commands =
            crate::host::ScriptedCommands::none().with_failure("nft", "Operation not permitted");
        enable(&fixture, "nftables.service");
        fixture.file("/etc/nftables.conf", NFT_DROP);
        fixture.expect(&DEFAULT_REJECT, Status::Error);
    }
}
