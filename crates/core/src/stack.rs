//! Stack decisions, pure: what to do for each stack status, whether a deploy would change
//! anything, how a change set reads, which changes are refused (stateful resources replaced or
//! removed), and which events explain a failure. `pipeline::provision` runs these against the
//! stack service.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};

/// The stack `shipit bootstrap` keeps the account's and region's shared pieces in (API
/// Gateway's logging role, the templates bucket): no app stack may take its name.
pub const BOOTSTRAP_STACK: &str = "shipit-bootstrap";

/// The most template CloudFormation takes inline (CreateChangeSet's `TemplateBody`: "a maximum
/// length of 51,200 bytes"); a larger one is read from S3 by `TemplateURL` (up to 1 MB).
pub const INLINE_TEMPLATE_MAX: usize = 51_200;

/// The bootstrap stack's output naming its templates bucket.
pub const TEMPLATES_BUCKET_OUTPUT: &str = "TemplatesBucketName";

/// Where a template too large to send inline is staged for `stack`: content-addressed, so the
/// same body is one object and a change set reads exactly the bytes shipit hashed.
pub fn template_key(stack: &str, body: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("templates/{stack}/{hex}.yaml")
}

/// The `TemplateURL` of `key` in `bucket` (S3's virtual-hosted form, which CloudFormation
/// requires to start with https://).
pub fn template_url(bucket: &str, region: &str, key: &str) -> String {
    format!("https://{bucket}.s3.{region}.amazonaws.com/{key}")
}

/// What to do next given the stack's status (None: the stack does not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// No stack (or only an unexecuted create change set): create through a change set.
    Create,
    /// A stable stack: update through a change set, or skip if nothing changed.
    Update,
    /// Another operation is running (a cancelled CI job leaves one): wait, with a deadline.
    Wait,
    /// The first create failed and rolled back; the stack must be deleted to create it again.
    FailedCreate,
    /// Stuck: a human must act first.
    Stuck { guidance: String },
}

pub fn next_step(status: Option<&str>) -> Next {
    let Some(status) = status else {
        return Next::Create;
    };
    match status {
        "REVIEW_IN_PROGRESS" | "DELETE_COMPLETE" => Next::Create,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE" | "IMPORT_COMPLETE"
        | "IMPORT_ROLLBACK_COMPLETE" => Next::Update,
        "ROLLBACK_COMPLETE" => Next::FailedCreate,
        "UPDATE_ROLLBACK_FAILED" => Next::Stuck {
            guidance: "the last update failed and so did its rollback; fix the resource that failed (see the events), then run `aws cloudformation continue-update-rollback --stack-name NAME` (with --resources-to-skip if needed) and deploy again".into(),
        },
        "DELETE_FAILED" => Next::Stuck {
            guidance: "a delete failed; remove what blocks it (often a non-empty bucket), then run `shipit destroy` again".into(),
        },
        "ROLLBACK_FAILED" | "CREATE_FAILED" | "IMPORT_ROLLBACK_FAILED" => Next::Stuck {
            guidance: "the stack failed and could not roll back; delete it (`shipit destroy`) after fixing the failing resource".into(),
        },
        s if s.ends_with("_IN_PROGRESS") => Next::Wait,
        other => Next::Stuck {
            guidance: format!("shipit does not know the stack status {other}; inspect it in the CloudFormation console"),
        },
    }
}

/// Whether a status is final for a wait that started an operation.
pub fn is_settled(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

/// A change set reports no change with one of these reasons (and status FAILED).
pub fn is_empty_change_set(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

/// Resources whose replacement or removal loses data.
pub fn is_stateful(kind: &str) -> bool {
    matches!(
        kind,
        "AWS::RDS::DBInstance"
            | "AWS::RDS::DBCluster"
            | "AWS::DynamoDB::Table"
            | "AWS::DynamoDB::GlobalTable"
            | "AWS::S3::Bucket"
            | "AWS::Cognito::UserPool"
            | "AWS::EFS::FileSystem"
            | "AWS::ElastiCache::ServerlessCache"
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub logical_id: String,
    pub kind: String,
    /// Add, Modify, Remove, Import, Dynamic.
    pub action: String,
    /// For Modify: True, False or Conditional.
    pub replacement: Option<String>,
}

impl Change {
    pub fn replaces(&self) -> bool {
        matches!(
            self.replacement.as_deref(),
            Some("True") | Some("Conditional")
        )
    }

    /// The change would lose a stateful resource's data.
    pub fn destroys_state(&self) -> bool {
        is_stateful(&self.kind)
            && (self.action == "Remove" || (self.action == "Modify" && self.replaces()))
    }

    pub fn line(&self) -> String {
        let sign = match self.action.as_str() {
            "Add" => "+",
            "Remove" => "-",
            "Modify" => "~",
            _ => "*",
        };
        let replacement = match self.replacement.as_deref() {
            Some("True") => "  (REPLACEMENT)",
            Some("Conditional") => "  (may be REPLACED)",
            _ => "",
        };
        format!(
            "{sign} {:<7} {} ({}){replacement}",
            self.action, self.logical_id, self.kind
        )
    }
}

/// Counts for a change set summary: (add, modify, remove, replace).
pub fn counts(changes: &[Change]) -> (usize, usize, usize, usize) {
    let n = |a: &str| changes.iter().filter(|c| c.action == a).count();
    (
        n("Add"),
        n("Modify"),
        n("Remove"),
        changes.iter().filter(|c| c.replaces()).count(),
    )
}

/// The template and parameters equal what is deployed: no change set is needed at all.
pub fn unchanged(
    deployed_body: &str,
    deployed: &BTreeMap<String, String>,
    desired_body: &str,
    desired: &BTreeMap<String, String>,
) -> bool {
    deployed_body.trim_end() == desired_body.trim_end() && deployed == desired
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub timestamp: String,
    pub logical_id: String,
    pub kind: String,
    pub status: String,
    pub reason: Option<String>,
}

impl Event {
    pub fn line(&self) -> String {
        match &self.reason {
            Some(r) if !r.is_empty() => format!(
                "{:<28} {} ({}): {r}",
                self.status, self.logical_id, self.kind
            ),
            _ => format!("{:<28} {} ({})", self.status, self.logical_id, self.kind),
        }
    }
}

/// The failing resources and their reasons, oldest first (the first is usually the cause).
pub fn failure_reasons(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.status.ends_with("_FAILED"))
        .filter_map(|e| {
            e.reason
                .as_ref()
                .map(|r| format!("{} ({}): {r}", e.logical_id, e.kind))
        })
        .collect()
}

/// What DescribeStacks says of one stack.
#[derive(Debug, Clone, Default)]
pub struct StackInfo {
    pub id: String,
    pub status: String,
    pub reason: Option<String>,
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    pub termination_protection: bool,
}

/// A change set as described: status, its reason, and the changes.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    pub status: String,
    pub reason: String,
    pub changes: Vec<Change>,
}

/// One stack resource as listed.
#[derive(Debug, Clone)]
pub struct StackResource {
    pub logical_id: String,
    pub physical_id: String,
    pub kind: String,
}

/// A stack name CloudFormation accepts, checked before any call.
pub fn check_stack_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.as_bytes()[0].is_ascii_alphabetic()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::config_hint(
            format!("{name:?} is not a valid stack name"),
            "stack names start with a letter and contain letters, digits and '-' (at most 128)",
        ))
    }
}

/// The stack name a directory suggests: lower-case letters, digits and hyphens.
pub fn suggest_name(dir_name: &str) -> String {
    let mut out = String::new();
    for c in dir_name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    match out.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => out.chars().take(100).collect(),
        Some(_) => format!("site-{out}").chars().take(100).collect(),
        None => "my-site".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_deliberate_next_step() {
        let table = [
            (None, Next::Create),
            (Some("REVIEW_IN_PROGRESS"), Next::Create),
            (Some("CREATE_COMPLETE"), Next::Update),
            (Some("UPDATE_COMPLETE"), Next::Update),
            (Some("UPDATE_ROLLBACK_COMPLETE"), Next::Update),
            (Some("ROLLBACK_COMPLETE"), Next::FailedCreate),
            (Some("CREATE_IN_PROGRESS"), Next::Wait),
            (Some("UPDATE_IN_PROGRESS"), Next::Wait),
            (Some("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"), Next::Wait),
            (Some("UPDATE_ROLLBACK_IN_PROGRESS"), Next::Wait),
            (Some("DELETE_IN_PROGRESS"), Next::Wait),
            (Some("ROLLBACK_IN_PROGRESS"), Next::Wait),
        ];
        for (status, want) in table {
            assert_eq!(next_step(status), want, "{status:?}");
        }
        for stuck in [
            "UPDATE_ROLLBACK_FAILED",
            "DELETE_FAILED",
            "ROLLBACK_FAILED",
            "CREATE_FAILED",
            "WEIRD",
        ] {
            assert!(
                matches!(next_step(Some(stuck)), Next::Stuck { .. }),
                "{stuck}"
            );
        }
        match next_step(Some("UPDATE_ROLLBACK_FAILED")) {
            Next::Stuck { guidance } => assert!(guidance.contains("continue-update-rollback")),
            other => panic!("{other:?}"),
        }
    }

    fn change(id: &str, kind: &str, action: &str, replacement: Option<&str>) -> Change {
        Change {
            logical_id: id.into(),
            kind: kind.into(),
            action: action.into(),
            replacement: replacement.map(str::to_owned),
        }
    }

    #[test]
    fn stateful_replacements_and_removals_are_flagged() {
        let table = [
            (
                change("Table", "AWS::DynamoDB::Table", "Modify", Some("True")),
                true,
            ),
            (
                change(
                    "Table",
                    "AWS::DynamoDB::Table",
                    "Modify",
                    Some("Conditional"),
                ),
                true,
            ),
            (
                change("Table", "AWS::DynamoDB::Table", "Modify", Some("False")),
                false,
            ),
            (
                change("Table", "AWS::DynamoDB::Table", "Remove", None),
                true,
            ),
            (
                change("Db", "AWS::RDS::DBInstance", "Modify", Some("True")),
                true,
            ),
            (change("Data", "AWS::S3::Bucket", "Remove", None), true),
            (
                change("Fn", "AWS::Lambda::Function", "Modify", Some("True")),
                false,
            ),
            (change("Table", "AWS::DynamoDB::Table", "Add", None), false),
            (
                change(
                    "Cache",
                    "AWS::ElastiCache::ReplicationGroup",
                    "Remove",
                    None,
                ),
                false,
            ),
        ];
        for (c, want) in table {
            assert_eq!(c.destroys_state(), want, "{c:?}");
        }
    }

    #[test]
    fn change_lines_and_counts() {
        let changes = [
            change("Table", "AWS::DynamoDB::Table", "Modify", Some("True")),
            change("Fn", "AWS::Lambda::Function", "Add", None),
            change("Old", "AWS::SNS::Topic", "Remove", None),
        ];
        assert_eq!(
            changes[0].line(),
            "~ Modify  Table (AWS::DynamoDB::Table)  (REPLACEMENT)"
        );
        assert_eq!(changes[1].line(), "+ Add     Fn (AWS::Lambda::Function)");
        assert_eq!(counts(&changes), (1, 1, 1, 1));
    }

    #[test]
    fn unchanged_needs_same_template_and_parameters() {
        let p = BTreeMap::from([("A".to_string(), "1".to_string())]);
        let q = BTreeMap::from([("A".to_string(), "2".to_string())]);
        assert!(unchanged("body\n", &p, "body", &p));
        assert!(!unchanged("body", &p, "body2", &p));
        assert!(!unchanged("body", &p, "body", &q));
    }

    #[test]
    fn empty_change_set_reasons() {
        assert!(is_empty_change_set(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(is_empty_change_set("No updates are to be performed."));
        assert!(!is_empty_change_set("Template format error"));
    }

    #[test]
    fn failures_are_explained_by_their_events() {
        let e = |id: &str, status: &str, reason: Option<&str>| Event {
            timestamp: String::new(),
            logical_id: id.into(),
            kind: "T".into(),
            status: status.into(),
            reason: reason.map(str::to_owned),
        };
        let events = [
            e("A", "CREATE_IN_PROGRESS", None),
            e("Db", "CREATE_FAILED", Some("quota exceeded")),
            e("B", "CREATE_FAILED", Some("Resource creation cancelled")),
            e("stack", "ROLLBACK_COMPLETE", None),
        ];
        assert_eq!(
            failure_reasons(&events),
            [
                "Db (T): quota exceeded",
                "B (T): Resource creation cancelled"
            ]
        );
    }

    #[test]
    fn stack_names_from_directory_names() {
        let table = [
            ("My Site", "my-site"),
            ("shop.example.com", "shop-example-com"),
            ("2024-site", "site-2024-site"),
            ("___", "my-site"),
            ("web_app", "web-app"),
        ];
        for (dir, want) in table {
            assert_eq!(suggest_name(dir), want, "{dir}");
            assert!(check_stack_name(&suggest_name(dir)).is_ok());
        }
    }

    #[test]
    fn a_large_template_is_staged_by_its_content() {
        let a = template_key("site", "Resources: {}");
        assert!(
            a.starts_with("templates/site/") && a.ends_with(".yaml"),
            "{a}"
        );
        assert_eq!(a.len(), "templates/site/".len() + 64 + ".yaml".len());
        assert_eq!(a, template_key("site", "Resources: {}"));
        assert_ne!(a, template_key("site", "Resources: {} "));
        assert_ne!(a, template_key("other", "Resources: {}"));
        assert_eq!(
            template_url("b", "eu-west-1", "templates/x.yaml"),
            "https://b.s3.eu-west-1.amazonaws.com/templates/x.yaml"
        );
        // The embedded template is past the inline limit: it goes through S3.
        assert!(crate::template::EMBEDDED.len() > INLINE_TEMPLATE_MAX);
    }
}
