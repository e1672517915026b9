use std::time::Duration;

use domxml::parse::{parse, ParseOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

use super::*;

fn domain(devices: &str) -> Domain {
    let xml = format!(
        "<domain type='qemu'><name>g</name><memory unit='MiB'>64</memory>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>{devices}</devices></domain>"
    );
    parse(&xml, &ParseOptions::default()).expect("test XML parses")
}

const USUAL: &str = "<serial type='pty'><target port='0'/></serial>\
                     <console type='pty'><target type='serial' port='0'/></console>";

#[test]
fn the_usual_pty_console_is_serial0_by_default_and_by_alias() {
    let def = domain(USUAL);
    let want = ConsoleDevice {
        alias: "serial0".into(),
        port: 0,
    };
    assert_eq!(find_console(&def, None).unwrap(), want);
    assert_eq!(find_console(&def, Some("serial0")).unwrap(), want);
    assert_eq!(
        chardev_aliases(&def),
        (vec!["serial0".to_owned()], vec!["serial0".to_owned()])
    );
}

#[test]
fn a_console_alone_and_a_second_serial_port_are_found() {
    let def = domain("<console type='pty'><target type='serial' port='0'/></console>");
    assert_eq!(find_console(&def, None).unwrap().alias, "serial0");
    let def = domain(
        "<serial type='file'><source path='/tmp/s0'/><target port='0'/></serial>\
         <serial type='pty'><target port='1'/></serial>",
    );
    assert_eq!(
        find_console(&def, Some("serial1")).unwrap(),
        ConsoleDevice {
            alias: "serial1".into(),
            port: 1
        }
    );
    // Without a name libvirt looks at the first console, then the first serial port only.
    assert_eq!(
        find_console(&def, None).unwrap_err().to_string(),
        "cannot find character device (null)"
    );
}

#[test]
fn unknown_names_and_chardevs_that_are_not_ptys_are_refused_in_libvirts_words() {
    let def = domain(USUAL);
    assert_eq!(
        find_console(&def, Some("serial7")).unwrap_err().to_string(),
        "cannot find character device serial7"
    );
    assert_eq!(
        find_console(&def, Some("console0"))
            .unwrap_err()
            .to_string(),
        "cannot find character device console0"
    );
    let def = domain("<serial type='file'><source path='/tmp/s'/><target port='0'/></serial>");
    assert_eq!(
        find_console(&def, Some("serial0")).unwrap_err().to_string(),
        "character device serial0 is not using a PTY"
    );
    assert!(matches!(
        find_console(&domain(""), None),
        Err(ConsoleError::NoDevice { name: None })
    ));
}

#[test]
fn user_aliases_are_kept() {
    let def = domain(
        "<serial type='pty'><target port='0'/><alias name='ua-tty'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>",
    );
    assert_eq!(find_console(&def, Some("ua-tty")).unwrap().alias, "ua-tty");
    assert_eq!(find_console(&def, None).unwrap().alias, "ua-tty");
}

/// A stand-in for QEMU's console socket: a real listener that, like QEMU, serves one
/// connection at a time, writes `greeting` to it and echoes what it reads back upper-cased.
fn fake_qemu(dir: &std::path::Path, guest: &str) -> PathBuf {
    let path = dir.join(format!("{guest}-console-serial0.sock"));
    let listener = UnixListener::bind(&path).expect("bind");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            if conn.write_all(b"login: ").await.is_err() {
                continue;
            }
            let mut buf = [0u8; 64];
            while let Ok(n) = conn.read(&mut buf).await {
                if n == 0
                    || conn
                        .write_all(&buf[..n].to_ascii_uppercase())
                        .await
                        .is_err()
                {
                    break;
                }
            }
        }
    });
    path
}

/// The fake QEMU listens in this process.
fn me() -> i32 {
    i32::try_from(std::process::id()).unwrap()
}

fn device() -> ConsoleDevice {
    ConsoleDevice {
        alias: "serial0".into(),
        port: 0,
    }
}

async fn read_some(reader: &mut ConsoleReader) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), reader.read(&mut buf))
        .await
        .expect("console output within 5 s")
        .expect("read");
    buf[..n].to_vec()
}

#[tokio::test]
async fn one_session_at_a_time_until_forced_or_ended() {
    let dir = tempfile::tempdir().unwrap();
    let path = fake_qemu(dir.path(), "g");
    let consoles = Arc::new(Consoles::default());
    let uuid = Uuid::from_u128(7);

    let mut first = consoles
        .open(uuid, "g", device(), (path.clone(), me()), false)
        .await
        .unwrap();
    assert_eq!(read_some(&mut first.reader).await, b"login: ");
    first.writer.write_all(b"root\n").await.unwrap();
    assert_eq!(read_some(&mut first.reader).await, b"ROOT\n");

    let busy = consoles
        .open(uuid, "g", device(), (path.clone(), me()), false)
        .await
        .unwrap_err();
    assert_eq!(
        busy.to_string(),
        "Active console session exists for this domain"
    );
    // The refusal left the first session working.
    first.writer.write_all(b"ok\n").await.unwrap();
    assert_eq!(read_some(&mut first.reader).await, b"OK\n");

    // Another guest's console is its own.
    let mut other = consoles
        .open(
            Uuid::from_u128(8),
            "h",
            device(),
            (fake_qemu(dir.path(), "h"), me()),
            false,
        )
        .await
        .unwrap();

    // A forced open ends the first session (its reads see the end) and takes over.
    let mut second = consoles
        .open(uuid, "g", device(), (path.clone(), me()), true)
        .await
        .unwrap();
    assert_eq!(read_some(&mut first.reader).await, b"", "old session ended");
    drop(first);
    assert!(
        consoles.is_held(&uuid),
        "the old session's end keeps the new hold"
    );
    second.writer.write_all(b"x\n").await.unwrap();
    let mut seen = Vec::new();
    while !seen.ends_with(b"X\n") {
        seen.extend(read_some(&mut second.reader).await);
    }
    drop(second.reader);
    assert!(!consoles.is_held(&uuid), "the reader holds the session");
    drop(second.writer);

    // After the session ended, an ordinary open works again.
    let mut third = consoles
        .open(uuid, "g", device(), (path.clone(), me()), false)
        .await
        .unwrap();
    assert_eq!(read_some(&mut other.reader).await, b"login: ");
    assert_eq!(read_some(&mut third.reader).await, b"login: ");
}

#[tokio::test]
async fn a_socket_that_is_gone_is_a_clear_error_and_frees_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let consoles = Arc::new(Consoles::default());
    let uuid = Uuid::from_u128(9);
    let missing = dir.path().join("g-console-serial0.sock");
    let err = consoles
        .open(uuid, "g", device(), (missing.clone(), me()), false)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot connect to the console of domain 'g' at "),
        "{err}"
    );
    assert!(!consoles.is_held(&uuid));
    let path = fake_qemu(dir.path(), "g");
    assert_eq!(path, missing);
    let mut session = consoles
        .open(uuid, "g", device(), (path, me()), false)
        .await
        .unwrap();
    assert_eq!(read_some(&mut session.reader).await, b"login: ");
}

#[tokio::test]
async fn the_session_ends_when_qemu_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("console-serial0.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let consoles = Arc::new(Consoles::default());
    let uuid = Uuid::from_u128(10);
    let mut session = consoles
        .open(uuid, "g", device(), (path.clone(), me()), false)
        .await
        .unwrap();
    let (conn, _) = listener.accept().await.unwrap();
    drop(conn);
    drop(listener);
    assert_eq!(read_some(&mut session.reader).await, b"");
    drop(session);
    assert!(!consoles.is_held(&uuid));
}

#[tokio::test]
async fn a_socket_someone_else_listens_on_is_refused() {
    // What a compromised QEMU could do: put a symlink to another process's socket where its
    // console socket should be.
    let dir = tempfile::tempdir().unwrap();
    let path = fake_qemu(dir.path(), "other");
    let link = dir.path().join("console-serial0.sock");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let consoles = Arc::new(Consoles::default());
    let uuid = Uuid::from_u128(11);
    let err = consoles
        .open(uuid, "g", device(), (link.clone(), me() + 1), false)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the console socket {} of domain 'g' is not the guest's QEMU's (listener pid {})",
            link.display(),
            me()
        )
    );
    assert!(!consoles.is_held(&uuid));
}
