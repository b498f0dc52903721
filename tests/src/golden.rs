//! Golden files of CLI output: what a command prints, compared exactly with a file under
//! `tests/golden/` after redacting what changes from run to run (temporary paths, ports,
//! durations, timestamps). `UPDATE_GOLDEN=1 cargo test -p apirun-tests --test golden` rewrites
//! the files; the diff is then reviewed like code.

use std::path::{Path, PathBuf};

use crate::{Project, Run};

/// `tests/golden/`.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// Compare `actual` with `tests/golden/<name>`, or write it there with `UPDATE_GOLDEN=1`.
pub fn assert_golden(name: &str, actual: &str) {
    let path = dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0") {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir golden");
        }
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no golden file {}; run with UPDATE_GOLDEN=1 to create it\n--- actual\n{actual}",
            path.display()
        )
    });
    if expected != actual {
        let diff = line_diff(&expected, actual);
        panic!(
            "{} differs from the output (UPDATE_GOLDEN=1 rewrites it, then review the diff):\n{diff}",
            path.display()
        );
    }
}

/// The lines that differ, `-` expected and `+` actual, with their line numbers.
fn line_diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("{:>4} - {x}\n", i + 1));
                }
                if let Some(y) = y {
                    out.push_str(&format!("{:>4} + {y}\n", i + 1));
                }
            }
        }
    }
    out
}

/// A command and what it did, as one text: `$ apirun …`, the exit code, stdout and stderr,
/// redacted.
pub fn transcript(project: &Project, args: &[&str], run: &Run) -> String {
    format!(
        "$ apirun {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        run.code,
        redact(project.path(), &run.stdout),
        redact(project.path(), &run.stderr)
    )
}

/// `text` with the project folder as `[DIR]`, loopback ports as `[PORT]`, timestamps as
/// `[TIME]` and durations as `[DURATION]` (`12 ms`, `850ms`, `1.204s`, `1m0s`, JSON
/// `duration_ms`, JUnit `time`).
pub fn redact(project: &Path, text: &str) -> String {
    let mut out = text.to_string();
    let mut dirs = vec![project.display().to_string()];
    if let Ok(real) = project.canonicalize() {
        dirs.push(real.display().to_string());
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.len()));
    for d in dirs {
        out = out.replace(&d, "[DIR]");
    }
    out = replace_after(&out, "127.0.0.1:", digits, "[PORT]");
    out = replace_after(&out, "\"duration_ms\": ", digits, "[N]");
    out = replace_after(&out, "time=\"", number, "[T]");
    out = timestamps(&out);
    durations(&out)
}

/// Replace what `len` measures right after each `marker` by `with`.
fn replace_after(text: &str, marker: &str, len: impl Fn(&str) -> usize, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        let after = i + marker.len();
        out.push_str(&rest[..after]);
        let n = len(&rest[after..]);
        if n > 0 {
            out.push_str(with);
        }
        rest = &rest[after + n..];
    }
    out.push_str(rest);
    out
}

fn digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// `12`, `0.003`.
fn number(s: &str) -> usize {
    let int = digits(s);
    if int > 0 && s[int..].starts_with('.') {
        let frac = digits(&s[int + 1..]);
        if frac > 0 {
            return int + 1 + frac;
        }
    }
    int
}

/// `2026-01-02T03:04:05Z`, `2026-01-02T03:04:05.678Z`, also with `+00:00`.
fn timestamps(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if let Some(n) = timestamp_at(&text[i..]) {
            out.push_str("[TIME]");
            i += n;
            continue;
        }
        let c = text[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn timestamp_at(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    if b.len() < shape.len() {
        return None;
    }
    for (c, want) in b.iter().zip(shape) {
        let ok = if *want == b'd' {
            c.is_ascii_digit()
        } else {
            c == want
        };
        if !ok {
            return None;
        }
    }
    let mut n = shape.len();
    if b.get(n) == Some(&b'.') {
        n += 1 + digits(&s[n + 1..]);
    }
    if b.get(n) == Some(&b'Z') {
        n += 1;
    } else if s[n..].starts_with("+00:00") {
        n += 6;
    }
    Some(n)
}

/// A number with a duration unit, not part of a longer word: `12 ms`, `850ms`, `1.204s`,
/// `5m0s`; the column padding after it becomes two spaces.
fn durations(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let starts_word = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.');
        if starts_word && b[i].is_ascii_digit() {
            let n = number(&text[i..]);
            let rest = &text[i + n..];
            let unit = ["ms", " ms", "s", "us", "ns"]
                .iter()
                .find(|u| rest.starts_with(**u) && !word_char(rest.as_bytes().get(u.len())))
                .map(|u| u.len())
                .or_else(|| {
                    // `5m0s`
                    let m = rest.strip_prefix('m')?;
                    let d = digits(m);
                    (d > 0 && m[d..].starts_with('s') && !word_char(m.as_bytes().get(d + 1)))
                        .then_some(1 + d + 1)
                });
            if let Some(u) = unit {
                out.push_str("[DURATION]");
                i += n + u;
                // Table columns pad a duration to a width: the padding depends on the
                // duration's length, so it is normalized to two spaces.
                let pad = b[i..].iter().take_while(|c| **c == b' ').count();
                if pad >= 2 {
                    out.push_str("  ");
                    i += pad;
                }
                continue;
            }
            out.push_str(&text[i..i + n]);
            i += n;
            continue;
        }
        let c = text[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn word_char(c: Option<&u8>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_what_changes_between_runs() {
        let text = "applied 001_a.yaml in 12 ms (3 migration(s)) 850ms     1.204s 5m0s \
                    http://127.0.0.1:40123/x at=2026-01-02T03:04:05.678Z \"duration_ms\": 17 time=\"0.003\" /tmp/p/x v2s";
        assert_eq!(
            redact(Path::new("/tmp/p"), text),
            "applied 001_a.yaml in [DURATION] (3 migration(s)) [DURATION]  [DURATION] [DURATION] \
             http://127.0.0.1:[PORT]/x at=[TIME] \"duration_ms\": [N] time=\"[T]\" [DIR]/x v2s"
        );
    }
}
