//! Command checks: a program run directly (no shell unless written), with
//! the destination's address and port in `CUE_ADDRESS` and `CUE_PORT`;
//! healthy on exit 0. The program gets a process group of its own: a
//! probe cut short by its timeout kills the group, the program's children
//! with it. At most [`MAX_RUNNING`] programs run at a time.

use super::ProbeError;
use crate::director::config::CheckSpec;
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;

/// Programs running at a time at most, over every check; the others wait
/// their turn (within their own timeout).
pub const MAX_RUNNING: usize = 64;

/// Bytes kept of the end of a program's standard output and error, for the
/// diagnostic.
const TAIL: usize = 512;

fn running() -> &'static Semaphore {
    static S: Semaphore = Semaphore::const_new(MAX_RUNNING);
    &S
}

/// Kills the process group of a program whose probe ended before it did
/// (a timeout drops the probe): the program and whatever it started.
struct Group(Option<i32>);

impl Drop for Group {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // SAFETY: kill(2) with a negative pid signals a process group;
            // the group is the program's own, whose leader is not reaped
            // yet (it is still running), so the id names no other group.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

pub(super) async fn probe(spec: &CheckSpec) -> Result<String, ProbeError> {
    let Some((program, args)) = spec.command.split_first() else {
        return Err(ProbeError::local("no program to run"));
    };
    let _turn = running()
        .acquire()
        .await
        .map_err(|_| ProbeError::local("command checks stopped"))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("CUE_ADDRESS", spec.address.to_string())
        .env("CUE_PORT", spec.port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ProbeError::local(format!("cannot run {program}: {e}")))?;
    let mut group = Group(child.id().and_then(|id| i32::try_from(id).ok()));
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (status, out, err) = tokio::join!(child.wait(), tail(stdout), tail(stderr));
    // Exited: nothing of the group is killed by our hand (its id may be
    // another's soon).
    group.0 = None;
    let status = status.map_err(|e| ProbeError::response(format!("{program}: {e}")))?;
    let said = [err, out]
        .into_iter()
        .find(|t| !t.is_empty())
        .map(|t| format!(": {t}"))
        .unwrap_or_default();
    match status.code() {
        Some(0) => Ok(format!("exit 0{said}")),
        Some(code) => Err(ProbeError::status(format!("exit {code}{said}"))),
        None => {
            use std::os::unix::process::ExitStatusExt;
            let signal = status.signal().unwrap_or_default();
            Err(ProbeError::status(format!(
                "killed by signal {signal}{said}"
            )))
        }
    }
}

/// The last [`TAIL`] bytes of what `from` gives until its end, on one line.
async fn tail(from: Option<impl AsyncRead + Unpin>) -> String {
    let Some(mut from) = from else {
        return String::new();
    };
    let mut kept: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > TAIL {
            kept.drain(..kept.len() - TAIL);
        }
    }
    String::from_utf8_lossy(&kept)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
