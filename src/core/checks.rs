//! A verification's result as plain data: each check's outcome, its evidence and the likely
//! cause of a failure, and the report over all of them. `core::verify` decides the outcomes.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    pub url: String,
    /// What was seen: status, headers, sizes.
    pub evidence: String,
    /// On failure: the likely cause and what to do.
    pub cause: Option<String>,
}

impl Check {
    pub(crate) fn new(name: &'static str, url: &str, outcome: Outcome, evidence: String) -> Check {
        Check {
            name,
            outcome,
            url: url.to_string(),
            evidence,
            cause: None,
        }
    }
    pub(crate) fn fail(
        name: &'static str,
        url: &str,
        evidence: String,
        cause: impl Into<String>,
    ) -> Check {
        Check {
            cause: Some(cause.into()),
            ..Check::new(name, url, Outcome::Fail, evidence)
        }
    }
    pub(crate) fn pass(name: &'static str, url: &str, evidence: String) -> Check {
        Check::new(name, url, Outcome::Pass, evidence)
    }
    pub fn skip(name: &'static str, why: impl Into<String>) -> Check {
        Check::new(name, "", Outcome::Skip, why.into())
    }
    /// A request that got no answer at all.
    pub fn unreachable(name: &'static str, url: &str, error: &str) -> Check {
        Check::fail(
            name,
            url,
            format!("no answer: {error}"),
            "the URL is not reachable: check it (and DNS/TLS for a custom domain); a new distribution takes minutes to deploy",
        )
    }
}

/// All checks with their outcomes.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub site: String,
    pub ok: bool,
    pub attempts: u32,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(site: &str, attempts: u32, checks: Vec<Check>) -> Report {
        Report {
            site: site.to_string(),
            ok: checks.iter().all(|c| c.outcome != Outcome::Fail),
            attempts,
            checks,
        }
    }

    /// The table a human reads: one line a check, causes under failures.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let mark = match c.outcome {
                Outcome::Pass => "PASS",
                Outcome::Fail => "FAIL",
                Outcome::Skip => "skip",
            };
            out.push_str(&format!("{mark}  {:<16} {}", c.name, c.evidence));
            if !c.url.is_empty() {
                out.push_str(&format!("  [{}]", c.url));
            }
            out.push('\n');
            if let Some(cause) = &c.cause {
                out.push_str(&format!("      cause: {cause}\n"));
            }
        }
        out
    }
}
