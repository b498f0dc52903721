//! Timing and peak memory of apirun processes, and small statistics.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One finished apirun process.
#[derive(Debug, Clone)]
pub struct ProcessRun {
    /// From just before spawning to the moment it was reaped.
    pub elapsed: Duration,
    /// Peak resident set size of the process (`ru_maxrss`), in KiB.
    pub max_rss_kib: u64,
    /// CPU time the process used, user and system, all its threads.
    pub cpu: Duration,
    /// What it printed on stdout.
    pub stdout: String,
}

/// How to run the apirun binary under test.
#[derive(Debug, Clone)]
pub struct Apirun {
    /// `target/release/apirun`.
    pub exe: PathBuf,
    /// Where its output goes while it runs (read back afterwards).
    pub scratch: PathBuf,
}

impl Apirun {
    /// Run `apirun ARGS` in `dir` with `cache` as its compiled-component cache; fails unless
    /// it exits 0.
    pub fn run(&self, dir: &Path, cache: &Path, args: &[&str]) -> Result<ProcessRun, String> {
        let out_path = self.scratch.join("stdout.txt");
        let err_path = self.scratch.join("stderr.txt");
        let out = std::fs::File::create(&out_path).map_err(|e| format!("scratch file: {e}"))?;
        let err = std::fs::File::create(&err_path).map_err(|e| format!("scratch file: {e}"))?;
        let mut cmd = Command::new(&self.exe);
        cmd.current_dir(dir)
            .args(args)
            .env("APIRUN_CACHE_DIR", cache)
            .env("NO_COLOR", "1")
            .env_remove("APIRUN_LOG")
            .env_remove("APIRUN_CONFIG")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let started = Instant::now();
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.exe.display()))?;
        let (code, usage) =
            wait_with_rusage(child.id()).map_err(|e| format!("waiting for apirun: {e}"))?;
        let elapsed = started.elapsed();
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        if code != Some(0) {
            let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
            return Err(format!(
                "`apirun {}` in {} exited with {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                args.join(" "),
                dir.display()
            ));
        }
        Ok(ProcessRun {
            elapsed,
            max_rss_kib: usage.max_rss_kib,
            cpu: usage.cpu,
            stdout,
        })
    }
}

/// What a reaped child used.
struct Usage {
    max_rss_kib: u64,
    cpu: Duration,
}

/// Reap the child `pid` and return its exit code (`None` when a signal ended it) and its
/// usage. `wait4` reports the usage of exactly this child, which
/// `getrusage(RUSAGE_CHILDREN)` (the maximum over every child so far) cannot.
#[allow(unsafe_code)]
fn wait_with_rusage(pid: u32) -> std::io::Result<(Option<i32>, Usage)> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| std::io::Error::other(format!("pid {pid} out of range")))?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live, writable locals of the right types; `pid` is a
        // child of this process that nothing else waits for (the `Child` handle is never
        // waited on, and dropping it does not wait).
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Ok((
        code,
        Usage {
            max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
            cpu: time(usage.ru_utime) + time(usage.ru_stime),
        },
    ))
}

/// The median of some durations (the mean of the middle two for an even count).
pub fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort_unstable();
    match v.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

/// The largest of some peak-memory figures.
pub fn max_rss(runs: &[ProcessRun]) -> u64 {
    runs.iter().map(|r| r.max_rss_kib).max().unwrap_or(0)
}

/// The median CPU time of some process runs.
pub fn median_cpu(runs: &[ProcessRun]) -> Duration {
    median(&runs.iter().map(|r| r.cpu).collect::<Vec<_>>())
}

/// The median elapsed time of some process runs.
pub fn median_elapsed(runs: &[ProcessRun]) -> Duration {
    median(&runs.iter().map(|r| r.elapsed).collect::<Vec<_>>())
}

/// `1.23 ms`, `45.6 µs`, `2.35 s`: three significant digits or so.
pub fn human(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

/// `12.3 MiB`
pub fn human_kib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[]), Duration::ZERO);
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(
            median(&[ms(4), ms(1), ms(2), ms(3)]),
            Duration::from_micros(2500)
        );
    }

    #[test]
    fn human_units() {
        assert_eq!(human(Duration::from_micros(45)), "45.0 µs");
        assert_eq!(human(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(human(Duration::from_millis(2345)), "2.35 s");
        assert_eq!(human_kib(2048), "2.0 MiB");
    }
}
