//! Processes read from `/proc` under the root: pid, command name, arguments and, on request,
//! status fields, the SELinux context and the socket inodes a process holds.

use crate::root::{FileKind, HostRoot, RootError};

/// A running process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Process {
    pub pid: u32,
    /// `/proc/<pid>/comm` (at most 15 characters).
    pub comm: String,
    /// `/proc/<pid>/cmdline`, split at NULs.
    pub cmdline: Vec<String>,
}

impl Process {
    /// The program name: the last path component of argv\[0\], or `comm`.
    pub fn program(&self) -> &str {
        self.cmdline
            .first()
            .and_then(|arg0| arg0.rsplit('/').next())
            .filter(|name| !name.is_empty())
            .unwrap_or(&self.comm)
    }
}

/// Every process under `/proc`. Processes that exit while being read are skipped.
pub(crate) fn processes(root: &HostRoot) -> Result<Vec<Process>, RootError> {
    let mut found = Vec::new();
    for entry in root.list("/proc")? {
        let Ok(pid) = entry.name.parse::<u32>() else {
            continue;
        };
        if entry.kind != FileKind::Dir {
            continue;
        }
        let Some(comm) = root.read(&format!("/proc/{pid}/comm"))? else {
            continue;
        };
        let cmdline = root
            .read(&format!("/proc/{pid}/cmdline"))?
            .unwrap_or_default()
            .split('\0')
            .filter(|arg| !arg.is_empty())
            .map(str::to_owned)
            .collect();
        found.push(Process {
            pid,
            comm: comm.trim_end().to_owned(),
            cmdline,
        });
    }
    Ok(found)
}

/// A field of `/proc/<pid>/status` (`Uid`, `NoNewPrivs`, `CapEff`, `Seccomp`).
pub(crate) fn status_field(
    root: &HostRoot,
    pid: u32,
    field: &str,
) -> Result<Option<String>, RootError> {
    let Some(status) = root.read(&format!("/proc/{pid}/status"))? else {
        return Ok(None);
    };
    Ok(status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == field).then(|| value.trim().to_owned())
    }))
}

/// The process's SELinux context (`/proc/<pid>/attr/current`), `None` without SELinux. With
/// no major LSM loaded the kernel answers EINVAL, which means "no label" too.
pub(crate) fn selinux_context(root: &HostRoot, pid: u32) -> Result<Option<String>, RootError> {
    let text = match root.read(&format!("/proc/{pid}/attr/current")) {
        Ok(text) => text,
        Err(RootError::Read { source, .. })
            if source.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) =>
        {
            None
        }
        Err(err) => return Err(err),
    };
    Ok(text
        .map(|text| text.trim_end_matches(['\0', '\n']).to_owned())
        .filter(|text| !text.is_empty() && text != "unconfined" && text != "kernel"))
}

/// The socket inodes a process has open (`/proc/<pid>/fd/* -> socket:[N]`).
pub(crate) fn socket_inodes(root: &HostRoot, pid: u32) -> Result<Vec<u64>, RootError> {
    let mut inodes = Vec::new();
    let dir = format!("/proc/{pid}/fd");
    for entry in root.list(&dir)? {
        if let Some(target) = root.link_target(&entry.path)? {
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inode| inode.parse().ok())
            {
                inodes.push(inode);
            }
        }
    }
    Ok(inodes)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::Fixture;
    use super::*;

    #[test]
    fn reads_processes_status_and_sockets() {
        let fixture = Fixture::live();
        fixture
            .file("/proc/42/comm", "qemu-system-x86\n")
            .file(
                "/proc/42/cmdline",
                "/usr/bin/qemu-system-x86_64\0-name\0guest=g1\0",
            )
            .file("/proc/42/status", "Name:\tqemu\nUid:\t107\t107\t107\t107\n")
            .file(
                "/proc/42/attr/current",
                "system_u:system_r:svirt_t:s0:c1,c2\0",
            )
            .link("/proc/42/fd/3", "socket:[777]")
            .link("/proc/42/fd/4", "/dev/null")
            .file("/proc/self", "")
            .file("/proc/cpuinfo", "");
        let host = fixture.host();
        let found = processes(&host.root).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].program(), "qemu-system-x86_64");
        assert_eq!(
            status_field(&host.root, 42, "Uid").unwrap().as_deref(),
            Some("107\t107\t107\t107")
        );
        assert_eq!(
            selinux_context(&host.root, 42).unwrap().as_deref(),
            Some("system_u:system_r:svirt_t:s0:c1,c2")
        );
        assert_eq!(socket_inodes(&host.root, 42).unwrap(), [777]);
    }
}
