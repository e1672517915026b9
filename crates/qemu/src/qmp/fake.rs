//! The recording fake [`Monitor`]: scripted answers and failures, and a record of every call.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::Value;

use super::{lock, Monitor, MonitorFuture, QmpError};

/// One call the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    /// The command.
    pub command: String,
    /// Its arguments.
    pub arguments: Option<Value>,
}

/// A [`Monitor`] for unit tests of code that drives QEMU.
///
/// Answers are scripted per command and used in order; a command with no script left fails
/// with a `CommandNotFound` [`QmpError::Command`], so a test sees unexpected calls.
///
/// ```
/// # tokio_test_block_on(async {
/// use qemu::qmp::{Monitor, QmpError, RecordingMonitor};
/// use serde_json::json;
///
/// let fake = RecordingMonitor::new();
/// fake.reply("query-status", json!({"status": "running", "running": true}));
/// fake.fail("stop", QmpError::Disconnected { command: "stop".into() });
///
/// assert_eq!(fake.query_status().await?["status"], "running");
/// assert!(matches!(fake.stop().await, Err(QmpError::Disconnected { .. })));
/// assert_eq!(fake.commands(), ["query-status", "stop"]);
/// # Ok::<(), QmpError>(()) }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Default)]
pub struct RecordingMonitor {
    state: Mutex<FakeState>,
}

#[derive(Debug, Default)]
struct FakeState {
    calls: Vec<RecordedCall>,
    script: HashMap<String, VecDeque<Result<Value, QmpError>>>,
}

impl RecordingMonitor {
    /// A fake with nothing scripted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a successful answer for the next call of `command`.
    pub fn reply(&self, command: &str, value: Value) {
        self.push(command, Ok(value));
    }

    /// Queues a failure for the next call of `command`.
    pub fn fail(&self, command: &str, error: QmpError) {
        self.push(command, Err(error));
    }

    fn push(&self, command: &str, answer: Result<Value, QmpError>) {
        lock(&self.state)
            .script
            .entry(command.to_owned())
            .or_default()
            .push_back(answer);
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.state).calls.clone()
    }

    /// The command names called so far, in order.
    pub fn commands(&self) -> Vec<String> {
        lock(&self.state)
            .calls
            .iter()
            .map(|call| call.command.clone())
            .collect()
    }
}

impl Monitor for RecordingMonitor {
    fn execute<'a>(&'a self, command: &'a str, arguments: Option<Value>) -> MonitorFuture<'a> {
        let answer = {
            let mut state = lock(&self.state);
            state.calls.push(RecordedCall {
                command: command.to_owned(),
                arguments,
            });
            state
                .script
                .get_mut(command)
                .and_then(VecDeque::pop_front)
                .unwrap_or_else(|| {
                    Err(QmpError::Command {
                        command: command.to_owned(),
                        class: "CommandNotFound".into(),
                        desc: format!("no scripted answer for '{command}'"),
                    })
                })
        };
        Box::pin(async move { answer })
    }
}
