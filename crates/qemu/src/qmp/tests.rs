//! The client against a scripted QMP server on a unix socket, and the fake.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

use super::*;

const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}"#;

/// A server that sends `greeting`, then answers each request line with what `handler` returns
/// (lines to write; `None` closes the connection).
fn server<F>(greeting: &'static str, mut handler: F) -> (tempfile::TempDir, PathBuf)
where
    F: FnMut(&Value) -> Option<Vec<String>> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qmp.sock");
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        write.write_all(greeting.as_bytes()).await.unwrap();
        write.write_all(b"\n").await.unwrap();
        let mut lines = BufReader::new(read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let request: Value = serde_json::from_str(&line).unwrap();
            let Some(out) = handler(&request) else {
                return;
            };
            for line in out {
                if write.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
                let _ = write.write_all(b"\n").await;
            }
        }
    });
    (dir, path)
}

fn answer(request: &Value, value: Value) -> String {
    json!({"return": value, "id": request["id"]}).to_string()
}

fn options() -> QmpOptions {
    QmpOptions {
        handshake_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn handshake_commands_events_and_errors() {
    let (_dir, path) = server(GREETING, |request| {
        let command = request["execute"].as_str().unwrap();
        Some(match command {
            "qmp_capabilities" => vec![answer(request, json!({}))],
            "system_powerdown" => vec![
                r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "POWERDOWN"}"#.into(),
                answer(request, json!({})),
                r#"{"timestamp": {"seconds": 1, "microseconds": 9}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}"#.into(),
            ],
            "query-status" => vec![answer(request, json!({"status": "running", "running": true}))],
            _ => vec![json!({"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}, "id": request["id"]}).to_string()],
        })
    });
    let (client, mut events) = QmpClient::connect(&path, options()).await.unwrap();
    assert_eq!(
        client.greeting().version,
        QemuVersion {
            major: 7,
            minor: 2,
            micro: 22
        }
    );
    assert_eq!(client.greeting().capabilities, ["oob"]);

    assert_eq!(client.system_powerdown().await.unwrap(), json!({}));
    let powerdown = events.recv().await.unwrap();
    assert_eq!(powerdown.kind(), EventKind::Powerdown);
    assert_eq!(powerdown.timestamp, Some((1, 2)));
    let shutdown = events.recv().await.unwrap();
    assert_eq!(shutdown.kind(), EventKind::Shutdown);
    assert_eq!(shutdown.by_guest(), Some(true));
    assert_eq!(shutdown.reason(), Some("guest-shutdown"));

    assert_eq!(client.query_status().await.unwrap()["status"], "running");
    let err = client
        .execute("nope", Some(json!({"a": 1})))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "QMP command 'nope' failed: CommandNotFound: The command nope has not been found"
    );
}

#[tokio::test]
async fn concurrent_commands_are_matched_by_id() {
    // Answers come back in reverse order of the requests.
    let mut held: Vec<Value> = Vec::new();
    let (_dir, path) = server(GREETING, move |request| {
        if request["execute"] == "qmp_capabilities" {
            return Some(vec![answer(request, json!({}))]);
        }
        held.push(request.clone());
        if held.len() < 3 {
            return Some(vec![]);
        }
        Some(
            held.drain(..)
                .rev()
                .map(|r| answer(&r, r["arguments"]["n"].clone()))
                .collect(),
        )
    });
    let (client, _events) = QmpClient::connect(&path, options()).await.unwrap();
    let (a, b, c) = tokio::join!(
        client.execute("echo", Some(json!({"n": 1}))),
        client.execute("echo", Some(json!({"n": 2}))),
        client.execute("echo", Some(json!({"n": 3}))),
    );
    assert_eq!(
        (a.unwrap(), b.unwrap(), c.unwrap()),
        (json!(1), json!(2), json!(3))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_silent_command_times_out() {
    let (_dir, path) = server(GREETING, |request| {
        if request["execute"] == "qmp_capabilities" {
            Some(vec![answer(request, json!({}))])
        } else {
            Some(vec![])
        }
    });
    let (client, _events) = QmpClient::connect(&path, options()).await.unwrap();
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let err = client
        .execute_with_timeout("query-status", None, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(
        matches!(err, QmpError::Timeout { ref command, after } if command == "query-status" && after == Duration::from_secs(30)),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_secs(30));
    let err = client.execute("query-status", None).await.unwrap_err();
    assert!(matches!(err, QmpError::Timeout { after, .. } if after == Duration::from_secs(5)));
}

#[tokio::test]
async fn a_closed_connection_fails_waiting_commands_and_ends_events() {
    let (_dir, path) = server(GREETING, |request| {
        if request["execute"] == "qmp_capabilities" {
            Some(vec![answer(request, json!({}))])
        } else {
            None
        }
    });
    let (client, mut events) = QmpClient::connect(&path, options()).await.unwrap();
    let err = client.quit().await.unwrap_err();
    assert!(
        matches!(err, QmpError::Disconnected { ref command } if command == "quit"),
        "{err}"
    );
    assert!(events.recv().await.is_none());
    let err = client.cont().await.unwrap_err();
    assert!(matches!(err, QmpError::Disconnected { .. }), "{err}");
}

#[tokio::test]
async fn garbage_from_qemu_ends_the_connection() {
    let (_dir, path) = server(GREETING, |request| {
        if request["execute"] == "qmp_capabilities" {
            Some(vec![answer(request, json!({}))])
        } else {
            Some(vec!["{not json".into()])
        }
    });
    let (client, _events) = QmpClient::connect(&path, options()).await.unwrap();
    let err = client.stop().await.unwrap_err();
    assert!(matches!(err, QmpError::Disconnected { .. }), "{err}");
}

#[tokio::test]
async fn a_first_message_that_is_no_greeting_is_refused() {
    let (_dir, path) = server(r#"{"return": {}}"#, |_| Some(vec![]));
    let err = QmpClient::connect(&path, options()).await.unwrap_err();
    assert!(
        err.to_string().ends_with("first message is not a greeting"),
        "{err}"
    );
}

#[tokio::test]
async fn a_refused_capabilities_negotiation_is_an_error() {
    let (_dir, path) = server(GREETING, |request| {
        Some(vec![
            json!({"error": {"class": "GenericError", "desc": "no"}, "id": request["id"]})
                .to_string(),
        ])
    });
    let err = QmpClient::connect(&path, options()).await.unwrap_err();
    assert!(
        matches!(err, QmpError::Command { ref command, .. } if command == "qmp_capabilities"),
        "{err}"
    );
}

#[tokio::test]
async fn connecting_to_a_missing_socket_names_it() {
    let err = QmpClient::connect(std::path::Path::new("/nonexistent/qmp.sock"), options())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot connect to QMP socket /nonexistent/qmp.sock"
    );
}

#[tokio::test]
async fn the_fake_records_calls_and_plays_its_script() {
    let fake = RecordingMonitor::new();
    fake.reply(
        "query-status",
        json!({"status": "paused", "running": false}),
    );
    fake.fail(
        "cont",
        QmpError::Timeout {
            command: "cont".into(),
            after: Duration::from_secs(1),
        },
    );
    let monitor: &dyn Monitor = &fake;
    assert_eq!(monitor.query_status().await.unwrap()["status"], "paused");
    assert!(matches!(
        monitor.cont().await,
        Err(QmpError::Timeout { .. })
    ));
    let unscripted = monitor
        .execute(
            "human-monitor-command",
            Some(json!({"command-line": "info"})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(unscripted, QmpError::Command { ref class, .. } if class == "CommandNotFound")
    );
    assert_eq!(
        fake.commands(),
        ["query-status", "cont", "human-monitor-command"]
    );
    assert_eq!(
        fake.calls()[2].arguments,
        Some(json!({"command-line": "info"}))
    );
}

#[test]
fn lifecycle_events_have_kinds() {
    for (name, kind) in [
        ("SHUTDOWN", EventKind::Shutdown),
        ("STOP", EventKind::Stop),
        ("RESUME", EventKind::Resume),
        ("RESET", EventKind::Reset),
        ("POWERDOWN", EventKind::Powerdown),
        ("GUEST_PANICKED", EventKind::GuestPanicked),
        ("RTC_CHANGE", EventKind::Other),
    ] {
        let event = QmpEvent {
            name: name.into(),
            data: Value::Null,
            timestamp: None,
        };
        assert_eq!(event.kind(), kind, "{name}");
        assert_eq!(event.reason(), None);
    }
}
