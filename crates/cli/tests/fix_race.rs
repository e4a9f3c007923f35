//! `fix --write` racing a writer that takes no lock: no edit of the writer is ever lost, and
//! every run that saw the file change and wrote nothing says so with exit 2.
//!
//! A writer thread rewrites a copy of the Multus DaemonSet in bursts a fraction of a
//! millisecond apart, each
//! version ending in its own `# edit N` line, alternately in place (truncate and write, as
//! `echo > file` does) and by rename (as editors save); `fix --write` runs on it in a loop.
//! After each of its edits the writer checks that the file still ends in its latest line
//! (fixed or not). A fix run may show the fixed old version for the microseconds between its
//! swap and the swap back, so a mismatch is only counted once the run in flight has finished.
//! Bounded by the number of runs (`PRIORITYGUARD_RACE_RUNS`, default 300), never by time.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Runs started and finished, so the writer can wait for the one in flight.
#[derive(Default)]
struct Runs {
    finished: Mutex<u64>,
    done: Condvar,
}

fn marker(text: &str) -> Option<u64> {
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("# edit "))
        .and_then(|n| n.parse().ok())
}

#[test]
fn a_concurrent_writer_never_loses_an_edit() {
    let runs_wanted: u64 = std::env::var("PRIORITYGUARD_RACE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("multus-daemonset.yml");
    let base = std::fs::read_to_string(repo_root().join("examples/multus-daemonset.yml")).unwrap();
    let version = move |n: u64| format!("{base}# edit {n}\n");
    std::fs::write(&file, version(0)).unwrap();

    let runs = Arc::new(Runs::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicU64::new(0));
    let writer = {
        let (file, runs, stop, started) =
            (file.clone(), runs.clone(), stop.clone(), started.clone());
        let tmp = dir.path().join("writer.tmp");
        std::thread::spawn(move || {
            let (mut edits, mut lost) = (0u64, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                edits += 1;
                if edits % 2 == 0 {
                    std::fs::write(&file, version(edits)).unwrap();
                } else {
                    std::fs::write(&tmp, version(edits)).unwrap();
                    std::fs::rename(&tmp, &file).unwrap();
                }
                // Bursts of edits a fraction of a millisecond apart, and pauses long enough
                // for a run to get through.
                let pause = if edits % 8 == 0 {
                    40_000
                } else {
                    200 + edits % 7 * 150
                };
                std::thread::sleep(std::time::Duration::from_micros(pause));
                let in_flight = started.load(Ordering::SeqCst);
                let seen = marker(&std::fs::read_to_string(&file).unwrap());
                if seen == Some(edits) {
                    continue;
                }
                // Perhaps the microseconds between a run's swap and its swap back: wait for
                // that run to end, then look again.
                let finished = runs.finished.lock().unwrap();
                drop(
                    runs.done
                        .wait_while(finished, |f| {
                            *f < in_flight && !stop.load(Ordering::Relaxed)
                        })
                        .unwrap(),
                );
                let again = marker(&std::fs::read_to_string(&file).unwrap());
                if again != Some(edits) {
                    lost.push((edits, again));
                    // Start from a known state, so one loss is counted once.
                    std::fs::write(&file, version(edits)).unwrap();
                }
            }
            (edits, lost)
        })
    };

    let (mut wrote, mut refused, mut nothing, mut torn) = (0, 0, 0, 0);
    let name = file.display().to_string();
    for _ in 0..runs_wanted {
        started.fetch_add(1, Ordering::SeqCst);
        let out = Command::new(env!("CARGO_BIN_EXE_priorityguard"))
            .args(["fix", "--write", &name])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        *runs.finished.lock().unwrap() += 1;
        runs.done.notify_all();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) if stderr.starts_with("fixed ") => wrote += 1,
            Some(0) if stderr.is_empty() => nothing += 1,
            // Read while the writer had truncated the file and not yet written it: no object
            // in it, nothing written, and a note that says so.
            Some(0)
                if stderr.lines().all(|l| {
                    l.starts_with("note: ") && l.contains("holds no Kubernetes object")
                }) =>
            {
                torn += 1
            }
            Some(2) if stderr.contains("changed since it was read; left as it was") => {
                assert_eq!(stderr.lines().count(), 1, "{stderr}");
                refused += 1;
            }
            // Read while the writer had truncated but not yet written the file: a torn text,
            // refused as input.
            Some(2)
                if stderr
                    .lines()
                    .all(|l| l.starts_with("error: ") && l.contains(&*name)) =>
            {
                torn += 1
            }
            _ => panic!("unexpected result: {out:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    runs.done.notify_all();
    let (edits, lost) = writer.join().unwrap();
    println!(
        "{runs_wanted} fix runs: {wrote} wrote, {refused} saw a change and wrote nothing (exit 2), \
         {torn} read a half-written file (exit 2), {nothing} had nothing to fix; \
         {edits} writer edits, {} lost",
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "edits lost (edit, what the file showed): {lost:?}"
    );
    assert!(wrote > 0 && refused > 0, "the race was not exercised");
    assert!(edits > runs_wanted, "the writer hardly ran: {edits} edits");
}
