//! A verification's result as plain data: each check's outcome, its evidence and the likely
//! cause of a failure, and the report over all of them. `core::verify` decides the outcomes;
//! `error::Error::Broken` carries the report, so it lives below both (a leaf: serde only).

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
    pub fn new(name: &'static str, url: &str, outcome: Outcome, evidence: String) -> Check {
        Check {
            name,
            outcome,
            url: url.to_string(),
            evidence,
            cause: None,
        }
    }
    pub fn fail(
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
    pub fn pass(name: &'static str, url: &str, evidence: String) -> Check {
        Check::new(name, url, Outcome::Pass, evidence)
    }
    pub fn skip(name: &'static str, why: impl Into<String>) -> Check {
        Check::new(name, "", Outcome::Skip, why.into())
    }
    /// A request that got no answer a check can judge: each kind of failure with its own cause.
    pub fn unreachable(name: &'static str, url: &str, failure: &Failure) -> Check {
        let cause = match failure {
            Failure::Unreachable(_) => "the URL is not reachable: check it (and DNS/TLS for a custom domain); a new distribution takes minutes to deploy".to_string(),
            Failure::Timeout(t) => format!(
                "the server accepted the connection but sent no answer within {}s: it is overloaded or stalled",
                t.as_secs()
            ),
            Failure::TooLarge { limit } => format!(
                "the answer is larger than {} MiB, more than any page of a site: check that the URL is the site's (not a download)",
                limit / (1024 * 1024)
            ),
            Failure::Deadline(t) => format!(
                "not answered before the verification's deadline ({}s, --verify-timeout) passed",
                t.as_secs()
            ),
        };
        Check::fail(name, url, format!("no answer: {failure}"), cause)
    }
}

/// Why a request got no response a check can judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No connection or no HTTP answer (DNS, TLS, refused, reset).
    Unreachable(String),
    /// Connected, but no complete answer within the per-request timeout.
    Timeout(std::time::Duration),
    /// The body was larger than the client reads (bytes).
    TooLarge { limit: usize },
    /// The whole verification's deadline passed before this request could be answered.
    Deadline(std::time::Duration),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable(why) => f.write_str(why),
            Failure::Timeout(t) => write!(f, "no answer within {}s", t.as_secs()),
            Failure::TooLarge { limit } => write!(f, "the body is larger than {limit} bytes"),
            Failure::Deadline(t) => {
                write!(f, "the verification deadline ({}s) passed", t.as_secs())
            }
        }
    }
}

/// How a check the verification's deadline cut short begins its evidence.
const CUT_SHORT: &str = "no answer: the verification deadline";

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

    /// This report, where a check the deadline cut short keeps the failure the attempt before
    /// it saw: on a loaded machine the last attempt may get no answer, and "no answer" says
    /// less than what was seen ("region is eu-west-1"). A check that passed before stays a
    /// failure here: only this attempt could have confirmed it.
    pub fn keeping_earlier_failures(mut self, earlier: Option<&Report>) -> Report {
        let Some(earlier) = earlier else { return self };
        for c in &mut self.checks {
            if c.outcome != Outcome::Fail || !c.evidence.starts_with(CUT_SHORT) {
                continue;
            }
            if let Some(e) = earlier.checks.iter().find(|e| {
                e.name == c.name && e.outcome == Outcome::Fail && !e.evidence.starts_with(CUT_SHORT)
            }) {
                *c = e.clone();
            }
        }
        self
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_cut_short_keeps_the_failure_seen_before() {
        let deadline = Failure::Deadline(std::time::Duration::from_secs(10));
        let cut = |name| Check::unreachable(name, "u", &deadline);
        let stale = Check::fail(
            "runtime config",
            "u",
            "region is \"eu-west-1\"".into(),
            "redeploy",
        );
        let passed = Check::new("apex", "u", Outcome::Pass, "200".into());
        let earlier = Report::new("s", 1, vec![stale.clone(), passed]);
        let last = Report::new("s", 2, vec![cut("runtime config"), cut("apex")]);
        let kept = last.keeping_earlier_failures(Some(&earlier));
        assert_eq!(kept.checks[0].evidence, stale.evidence);
        // What passed before is not taken on trust: still a failure of this attempt.
        assert_eq!(kept.checks[1].outcome, Outcome::Fail);
        assert!(
            kept.checks[1].evidence.starts_with(CUT_SHORT),
            "{}",
            kept.checks[1].evidence
        );
        assert!(!kept.ok);
        let alone = Report::new("s", 1, vec![cut("runtime config")]).keeping_earlier_failures(None);
        assert!(alone.checks[0].evidence.starts_with(CUT_SHORT));
    }
}
