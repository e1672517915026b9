//! Applies [`super::ruleset`] scripts with `nft -f -`: one transaction per change.

use super::ruleset::{self, Firewall, TABLE};
use super::{run, CommandError};

/// The `nft` program.
pub const NFT: &str = "nft";

/// Replaces Moat's tables with `fw`'s rules atomically, or removes them when `fw` is empty.
pub fn apply(fw: &Firewall) -> Result<(), CommandError> {
    let script = if fw.is_empty() {
        ruleset::removal_script()
    } else {
        ruleset::script(fw)
    };
    run(NFT, &["-f", "-"], Some(&script)).map(drop)
}

/// Whether either of Moat's tables is loaded; `false` also when nft cannot be run.
pub fn tables_present() -> bool {
    ["inet", "bridge"]
        .into_iter()
        .any(|family| run(NFT, &["list", "table", family, TABLE], None).is_ok())
}

/// Moat's tables as the kernel holds them (`nft list table …`), for comparisons.
pub fn list() -> Result<String, CommandError> {
    let inet = run(NFT, &["list", "table", "inet", TABLE], None)?;
    let bridge = run(NFT, &["list", "table", "bridge", TABLE], None)?;
    Ok(inet + &bridge)
}
