//! Exec routes: `POST /containers/{id}/exec`, `POST /exec/{id}/start`, `GET /exec/{id}/json`.

use serde::{Deserialize, Serialize};

/// Body of `POST /containers/{id}/exec` (moby's `ExecOptions`, same key order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecCreateRequest {
    /// User to run as.
    #[serde(rename = "User", alias = "user")]
    pub user: String,
    /// Privileged exec.
    #[serde(rename = "Privileged", alias = "privileged")]
    pub privileged: bool,
    /// Allocate a TTY (then the output is raw, not multiplexed).
    #[serde(rename = "Tty", alias = "tty")]
    pub tty: bool,
    /// Initial console size `[height, width]`.
    #[serde(
        rename = "ConsoleSize",
        alias = "consolesize",
        skip_serializing_if = "Option::is_none"
    )]
    pub console_size: Option<[u32; 2]>,
    /// Attach stdin.
    #[serde(rename = "AttachStdin", alias = "attachstdin")]
    pub attach_stdin: bool,
    /// Attach stderr.
    #[serde(rename = "AttachStderr", alias = "attachstderr")]
    pub attach_stderr: bool,
    /// Attach stdout.
    #[serde(rename = "AttachStdout", alias = "attachstdout")]
    pub attach_stdout: bool,
    /// Detached exec.
    #[serde(rename = "Detach", alias = "detach")]
    pub detach: bool,
    /// Detach key sequence.
    #[serde(rename = "DetachKeys", alias = "detachkeys")]
    pub detach_keys: String,
    /// Extra environment `KEY=value`.
    #[serde(rename = "Env", alias = "env")]
    pub env: Option<Vec<String>>,
    /// Working directory.
    #[serde(rename = "WorkingDir", alias = "workingdir")]
    pub working_dir: String,
    /// Command and arguments (a string is one element, as Go's `StrSlice`).
    #[serde(
        rename = "Cmd",
        alias = "cmd",
        deserialize_with = "crate::json::str_slice"
    )]
    pub cmd: Option<Vec<String>>,
}

/// Reply of `POST /containers/{id}/exec` (201): `{"Id":"…"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecCreateResponse {
    /// Exec ID.
    #[serde(rename = "Id")]
    pub id: String,
}

/// Body of `POST /exec/{id}/start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecStartRequest {
    /// Return at once instead of streaming the output.
    #[serde(rename = "Detach", alias = "detach")]
    pub detach: bool,
    /// TTY mode (raw stream).
    #[serde(rename = "Tty", alias = "tty")]
    pub tty: bool,
    /// Console size `[height, width]`.
    #[serde(
        rename = "ConsoleSize",
        alias = "consolesize",
        skip_serializing_if = "Option::is_none"
    )]
    pub console_size: Option<[u32; 2]>,
}

/// `ProcessConfig` of [`ExecInspect`] (lower-case keys, as in moby).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecProcessConfig {
    /// TTY allocated.
    pub tty: bool,
    /// Executable.
    pub entrypoint: String,
    /// Arguments after the executable.
    pub arguments: Vec<String>,
    /// Privileged (omitted when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// User (omitted when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
}

/// Reply of `GET /exec/{id}/json` (moby's `backend.ExecInspect`, same key order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecInspect {
    /// Exec ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Still running.
    #[serde(rename = "Running")]
    pub running: bool,
    /// Exit code; `null` while running.
    #[serde(rename = "ExitCode")]
    pub exit_code: Option<i64>,
    /// Process description.
    #[serde(rename = "ProcessConfig")]
    pub process_config: ExecProcessConfig,
    /// Stdin attached.
    #[serde(rename = "OpenStdin")]
    pub open_stdin: bool,
    /// Stderr attached.
    #[serde(rename = "OpenStderr")]
    pub open_stderr: bool,
    /// Stdout attached.
    #[serde(rename = "OpenStdout")]
    pub open_stdout: bool,
    /// Can be removed.
    #[serde(rename = "CanRemove")]
    pub can_remove: bool,
    /// Full ID of the container.
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    /// Detach keys as Go encodes `[]byte` (base64 text), `null` when none.
    #[serde(rename = "DetachKeys")]
    pub detach_keys: Option<String>,
    /// Host PID of the exec process (0 when not started).
    #[serde(rename = "Pid")]
    pub pid: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_inspect_order() {
        let e = ExecInspect {
            id: "x".into(),
            running: false,
            exit_code: Some(0),
            process_config: ExecProcessConfig {
                entrypoint: "ip".into(),
                arguments: vec!["addr".into()],
                ..Default::default()
            },
            open_stdout: true,
            open_stderr: true,
            container_id: "c".into(),
            pid: 42,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&e).expect("json"),
            r#"{"ID":"x","Running":false,"ExitCode":0,"ProcessConfig":{"tty":false,"entrypoint":"ip","arguments":["addr"]},"OpenStdin":false,"OpenStderr":true,"OpenStdout":true,"CanRemove":false,"ContainerID":"c","DetachKeys":null,"Pid":42}"#
        );
    }

    #[test]
    fn exec_create_decode() {
        let r: ExecCreateRequest = crate::decode_json_body(
            br#"{"AttachStdout":true,"attachstderr":true,"Cmd":["ip","addr"],"Env":null}"#,
        )
        .expect("decode");
        assert!(r.attach_stdout && r.attach_stderr && !r.tty);
        assert_eq!(r.cmd, Some(vec!["ip".to_string(), "addr".to_string()]));
        assert_eq!(r.env, None);
    }
}
