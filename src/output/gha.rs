//! GitHub Actions: when `GITHUB_ACTIONS=true`, stages become collapsible groups, warnings and
//! errors become annotations, and the run ends with a markdown job summary (the stack, the
//! plan's counts, the verification table, the site URL) appended to `$GITHUB_STEP_SUMMARY`.
//! The markdown and the escaping are pure; only [`append_summary`] writes.

use std::io::Write;

use shipit_core::checks::{Outcome, Report};
use shipit_core::summary::{human_bytes, Summary};

/// Whether we run in GitHub Actions.
pub fn enabled(get: impl Fn(&str) -> Option<String>) -> bool {
    get("GITHUB_ACTIONS").as_deref() == Some("true")
}

/// Escapes a workflow command's message (`%`, CR and LF; GitHub's rules).
pub fn escape(message: &str) -> String {
    message
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// An `::error` annotation for a failure and its hint.
pub fn error_command(message: &str, hint: Option<&str>) -> String {
    let text = match hint {
        Some(h) => format!("{message}\nhint: {h}"),
        None => message.to_string(),
    };
    format!("::error title=shipit::{}", escape(&text))
}

/// What a run has to say in its job summary.
#[derive(Default)]
pub struct JobSummary<'a> {
    pub command: &'a str,
    /// Stack name and what happened to it (created, updated, unchanged).
    pub stack: Option<(&'a str, &'a str)>,
    /// What the API runs after the command: a function's version, or a service's revision
    /// and image (`ApiVersion::label`).
    pub api: Option<String>,
    pub summary: Option<&'a Summary>,
    pub verify: Option<&'a Report>,
    /// The failure, with its hint.
    pub error: Option<(&'a str, Option<&'a str>)>,
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The job summary's markdown.
pub fn markdown(s: &JobSummary) -> String {
    let mut out = String::new();
    let verdict = if s.error.is_some() {
        "failed"
    } else {
        "succeeded"
    };
    out.push_str(&format!("## shipit {} {verdict}\n\n", s.command));
    if let Some((message, hint)) = s.error {
        out.push_str(&format!("> **Error:** {}\n", cell(message)));
        if let Some(h) = hint {
            out.push_str(&format!(">\n> **Hint:** {}\n", cell(h)));
        }
        out.push('\n');
    }
    if let Some(r) = s.verify {
        out.push_str(&format!("**Site:** {}\n\n", r.site));
    }
    if let Some((name, action)) = s.stack {
        out.push_str(&format!("**Stack:** `{name}` ({action})\n\n"));
    }
    if let Some(api) = &s.api {
        out.push_str(&format!("**API:** `{}`\n\n", cell(api)));
    }
    if let Some(sum) = s.summary {
        out.push_str("| uploaded | headers updated | deleted | unchanged | bytes | invalidated paths | seconds |\n");
        out.push_str("|---:|---:|---:|---:|---:|---:|---:|\n");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.1} |\n\n",
            sum.uploaded,
            sum.header_updated,
            sum.deleted,
            sum.unchanged,
            human_bytes(sum.bytes_uploaded),
            sum.invalidated_paths,
            sum.seconds
        ));
        if !sum.left_out.is_empty() {
            out.push_str(&format!(
                "**Left out by the excludes:** {}, not deployed\n\n",
                sum.left_out.headline()
            ));
            for line in sum.left_out.lines() {
                out.push_str(&format!("- {}\n", cell(&line)));
            }
            out.push('\n');
        }
    }
    if let Some(r) = s.verify {
        out.push_str(&format!(
            "### Verification: {} ({} attempts)\n\n",
            if r.ok { "passed" } else { "FAILED" },
            r.attempts
        ));
        out.push_str("| check | result | evidence | likely cause |\n|---|---|---|---|\n");
        for c in &r.checks {
            let mark = match c.outcome {
                Outcome::Pass => "✅ pass",
                Outcome::Fail => "❌ fail",
                Outcome::Skip => "➖ skip",
            };
            out.push_str(&format!(
                "| {} | {mark} | {} | {} |\n",
                c.name,
                cell(&c.evidence),
                cell(c.cause.as_deref().unwrap_or(""))
            ));
        }
        out.push('\n');
    }
    out
}

/// Appends to the file `$GITHUB_STEP_SUMMARY` names (nothing when it is unset).
pub fn append_summary(path: Option<String>, markdown: &str) -> std::io::Result<()> {
    let Some(path) = path.filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(markdown.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipit_core::verify::Check;

    #[test]
    fn workflow_commands_are_escaped() {
        let table = [
            ("plain", "plain"),
            ("100% done", "100%25 done"),
            ("two\nlines", "two%0Alines"),
            ("crlf\r\n", "crlf%0D%0A"),
        ];
        for (input, want) in table {
            assert_eq!(escape(input), want);
        }
        assert_eq!(
            error_command("stack s failed", Some("see events")),
            "::error title=shipit::stack s failed%0Ahint: see events"
        );
        assert_eq!(error_command("x", None), "::error title=shipit::x");
    }

    #[test]
    fn only_github_actions_true_enables_it() {
        for (value, want) in [(Some("true"), true), (Some("false"), false), (None, false)] {
            assert_eq!(enabled(|_| value.map(str::to_string)), want, "{value:?}");
        }
    }

    fn summary() -> Summary {
        Summary {
            bucket: "b".into(),
            prefix: String::new(),
            uploaded: 3,
            header_updated: 1,
            deleted: 2,
            unchanged: 10,
            kept_stale: 0,
            bytes_uploaded: 2048,
            invalidated_paths: 4,
            invalidation_id: Some("I1".into()),
            release: None,
            left_out: {
                let mut l = shipit_core::summary::LeftOut::default();
                l.add("**/*.map", "assets/app.js.map", 3 * 1024 * 1024);
                l
            },
            seconds: 1.25,
        }
    }

    #[test]
    fn the_summary_has_counts_the_table_and_the_site() {
        let report = Report::new(
            "https://d1.cloudfront.net",
            2,
            vec![
                Check {
                    name: "apex",
                    outcome: Outcome::Pass,
                    url: "https://d1.cloudfront.net/".into(),
                    evidence: "200, text/html".into(),
                    cause: None,
                },
                Check {
                    name: "direct S3",
                    outcome: Outcome::Fail,
                    url: "https://b.s3.amazonaws.com/index.html".into(),
                    evidence: "200 | public".into(),
                    cause: Some("the bucket is public".into()),
                },
            ],
        );
        let s = summary();
        let md = markdown(&JobSummary {
            command: "deploy",
            stack: Some(("site", "updated")),
            api: Some("site-api:7 (sha256:0123456789ab)".into()),
            summary: Some(&s),
            verify: Some(&report),
            error: Some(("site broken", Some("fix the policy"))),
        });
        for want in [
            "## shipit deploy failed",
            "> **Error:** site broken",
            "> **Hint:** fix the policy",
            "**Site:** https://d1.cloudfront.net",
            "**Stack:** `site` (updated)",
            "**API:** `site-api:7 (sha256:0123456789ab)`",
            "| 3 | 1 | 2 | 10 | 2.0 KiB | 4 | 1.2 |",
            "**Left out by the excludes:** 1 file (3.0 MiB), not deployed",
            "- **/*.map: 1 file, 3.0 MiB (assets/app.js.map); deploy them with --include-source-maps",
            "### Verification: FAILED (2 attempts)",
            "| apex | ✅ pass | 200, text/html |  |",
            "| direct S3 | ❌ fail | 200 \\| public | the bucket is public |",
        ] {
            assert!(md.contains(want), "{want:?} missing from:\n{md}");
        }
        let ok = markdown(&JobSummary {
            command: "verify",
            ..Default::default()
        });
        assert_eq!(ok, "## shipit verify succeeded\n\n");
    }

    #[test]
    fn the_summary_file_is_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        let p = Some(path.to_str().unwrap().to_string());
        append_summary(p.clone(), "one\n").unwrap();
        append_summary(p, "two\n").unwrap();
        append_summary(None, "never\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }
}
