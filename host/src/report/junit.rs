//! JUnit XML (`--report-junit FILE`): one test case per migration step, so a CI server shows
//! what ran and what failed without scraping text.
//!
//! The layout follows what Jenkins, GitLab and GitHub test reporters read: `<testsuites>` with
//! one `<testsuite>` per migration (per stage and migration for `stages`), each step a
//! `<testcase>` whose `classname` is the suite; a failed step has `<failure message=…>`, a step
//! that did not run (or a skipped stage) has `<skipped message=…>`.

use std::fmt::Write;

use super::run::{MigrationReport, StageRunReport, StepOutcome};

/// One `<testcase>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Its name: `#1 create realm: POST http://…`.
    pub name: String,
    /// Seconds.
    pub time: f64,
    /// How it ended.
    pub result: CaseResult,
}

/// How a test case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseResult {
    /// Passed.
    Passed,
    /// Failed, with a one-line message and the full text.
    Failed {
        /// One line.
        message: String,
        /// Everything known.
        text: String,
    },
    /// Did not run, and why.
    Skipped(String),
}

/// One `<testsuite>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// Its name, also each case's `classname`.
    pub name: String,
    /// Its cases.
    pub cases: Vec<Case>,
}

/// The cases of one migration: one per step.
pub fn migration_cases(m: &MigrationReport) -> Vec<Case> {
    m.steps
        .iter()
        .map(|s| {
            let mut name = format!("#{} {}", s.index, s.name);
            if let Some(r) = &s.request {
                name.push_str(&format!(": {r}"));
            }
            let result = match s.outcome {
                StepOutcome::Ok => CaseResult::Passed,
                StepOutcome::Failed => {
                    let text = s
                        .error
                        .clone()
                        .or_else(|| m.error.clone())
                        .unwrap_or_else(|| "step failed".into());
                    CaseResult::Failed {
                        message: first_line(&text),
                        text,
                    }
                }
                StepOutcome::NotRun => CaseResult::Skipped(
                    "not run: an earlier step or migration of the run failed".into(),
                ),
                StepOutcome::DryRun => CaseResult::Skipped("dry run: nothing was sent".into()),
            };
            Case {
                name,
                time: s.duration_ms as f64 / 1000.0,
                result,
            }
        })
        .collect()
}

/// The suites of a single-project run: one per migration.
pub fn project_suites(migrations: &[MigrationReport]) -> Vec<Suite> {
    migrations
        .iter()
        .map(|m| Suite {
            name: m.file_name().to_string(),
            cases: migration_cases(m),
        })
        .collect()
}

/// The suites of a stages run: one per stage and migration, and for a stage that was skipped,
/// not started, or failed outside its migrations, one suite named after the stage with one case.
pub fn stage_suites(stages: &[StageRunReport]) -> Vec<Suite> {
    let mut out = Vec::new();
    for s in stages {
        for m in &s.migrations {
            out.push(Suite {
                name: format!("{}/{}", s.name, m.file_name()),
                cases: migration_cases(m),
            });
        }
        let failed_in_migration = s
            .migrations
            .iter()
            .any(|m| m.outcome == super::run::MigrationOutcome::Failed);
        let result = match s.outcome {
            "skipped" | "not_started" => Some(CaseResult::Skipped(
                s.reason
                    .clone()
                    .unwrap_or_else(|| format!("stage {}", s.outcome)),
            )),
            "failed" if !failed_in_migration => {
                let text = s.error.clone().unwrap_or_else(|| "stage failed".into());
                Some(CaseResult::Failed {
                    message: first_line(&text),
                    text,
                })
            }
            _ => None,
        };
        if let Some(result) = result {
            out.push(Suite {
                name: s.name.clone(),
                cases: vec![Case {
                    name: format!("stage {} ({})", s.name, s.direction),
                    time: s.duration_ms as f64 / 1000.0,
                    result,
                }],
            });
        }
    }
    out
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_string()
}

/// The XML document.
pub fn render(name: &str, suites: &[Suite]) -> String {
    let count = |f: &dyn Fn(&CaseResult) -> bool, cases: &[Case]| {
        cases.iter().filter(|c| f(&c.result)).count()
    };
    let failed = |r: &CaseResult| matches!(r, CaseResult::Failed { .. });
    let skipped = |r: &CaseResult| matches!(r, CaseResult::Skipped(_));
    let all: Vec<Case> = suites.iter().flat_map(|s| s.cases.clone()).collect();
    let time = |cases: &[Case]| cases.iter().map(|c| c.time).sum::<f64>();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">",
        escape(name),
        all.len(),
        count(&failed, &all),
        count(&skipped, &all),
        time(&all)
    );
    for suite in suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">",
            escape(&suite.name),
            suite.cases.len(),
            count(&failed, &suite.cases),
            count(&skipped, &suite.cases),
            time(&suite.cases)
        );
        for case in &suite.cases {
            let head = format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                escape(&suite.name),
                escape(&case.name),
                case.time
            );
            match &case.result {
                CaseResult::Passed => {
                    let _ = writeln!(out, "{head}/>");
                }
                CaseResult::Failed { message, text } => {
                    let _ = writeln!(out, "{head}>");
                    let _ = writeln!(
                        out,
                        "      <failure message=\"{}\" type=\"step failed\">{}</failure>",
                        escape(message),
                        escape(text)
                    );
                    let _ = writeln!(out, "    </testcase>");
                }
                CaseResult::Skipped(why) => {
                    let _ = writeln!(out, "{head}>");
                    let _ = writeln!(out, "      <skipped message=\"{}\"/>", escape(why));
                    let _ = writeln!(out, "    </testcase>");
                }
            }
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text for an XML attribute or element: markup escaped, and characters XML 1.0 cannot hold
/// (control characters but tab and newline) replaced.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape("a<b & \"c\"\n\u{1}"),
            "a&lt;b &amp; &quot;c&quot;&#10;\u{FFFD}"
        );
    }

    #[test]
    fn counts_failures_and_skips() {
        let suites = vec![Suite {
            name: "001_a.yaml".into(),
            cases: vec![
                Case {
                    name: "#1 a".into(),
                    time: 0.5,
                    result: CaseResult::Passed,
                },
                Case {
                    name: "#2 a".into(),
                    time: 0.25,
                    result: CaseResult::Failed {
                        message: "boom".into(),
                        text: "boom\nmore".into(),
                    },
                },
                Case {
                    name: "#3 a".into(),
                    time: 0.0,
                    result: CaseResult::Skipped("not run".into()),
                },
            ],
        }];
        let xml = render("apirun up", &suites);
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"0.750\""),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"boom\" type=\"step failed\">boom&#10;more</failure>"),
            "{xml}"
        );
        assert!(xml.contains("<skipped message=\"not run\"/>"), "{xml}");
    }
}
