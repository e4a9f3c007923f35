//! The control plane's child processes: spawned so they cannot outlive the test, killed
//! without ever signalling a recycled pid, and able to say how they are doing.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use anyhow::{Context, Result};

/// One component (etcd, kube-apiserver, …) with its log file.
pub(crate) struct Proc {
    pub(crate) name: &'static str,
    child: Child,
    pub(crate) log: PathBuf,
}

impl Proc {
    /// Starts `bin` with `args` in `dir`, stdout and stderr into `dir/<name>.log`, as leader of
    /// its own process group, and with SIGKILL as its parent-death signal.
    ///
    /// The parent-death signal fires when the *thread* that spawned the child ends, so a
    /// cluster must be started on the thread that drops it (a test's own thread does both).
    pub(crate) fn spawn(
        bin: &Path,
        name: &'static str,
        args: &[String],
        dir: &Path,
    ) -> Result<Proc> {
        let log = dir.join(format!("{name}.log"));
        let file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let parent = libc::pid_t::try_from(std::process::id()).context("pid out of range")?;
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            // Own process group, so a kill reaches anything the component starts.
            .process_group(0);
        // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
        // syscalls (prctl, getppid); it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                // An aborted test run (SIGKILL, a panic in another thread aborting) must not
                // leave API servers behind: the kernel kills the child when we go.
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let child = cmd.spawn().with_context(|| format!("spawning {name}"))?;
        Ok(Proc { name, child, log })
    }

    /// The exit status if the component has exited (reaping it), `None` while it runs.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL the component's process group and reap it. A child that is already reaped is
    /// left alone: its pid (the group id) may belong to an unrelated process by now.
    pub(crate) fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(None))
            && let Ok(pid) = i32::try_from(self.child.id())
        {
            // SAFETY: plain syscall; the child is not reaped (try_wait said so just now and
            // only this struct waits for it), so the group id is still ours.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }

    /// `name: running (pid N)` or `name: exited (status)`, then the last `lines` of its log.
    pub(crate) fn report(&mut self, lines: usize) -> String {
        let state = match self.exited() {
            None => format!("running (pid {})", self.child.id()),
            Some(status) => format!("EXITED ({status})"),
        };
        format!(
            "{}: {state}; last {lines} lines of {}:\n{}",
            self.name,
            self.log.display(),
            log_tail(&self.log, lines)
        )
    }
}

pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| format!("<cannot read log: {e}>"));
    let all: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for l in &all[all.len().saturating_sub(lines)..] {
        let _ = writeln!(out, "    {l}");
    }
    out
}
