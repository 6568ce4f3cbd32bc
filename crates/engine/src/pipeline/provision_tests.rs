//! Ensuring the stack against the in-memory stack service: each status handled as its
//! decision says, no change set for an unchanged stack, stateful replacements refused before
//! anything executes, a failed create explained and recreated only when asked.

use crate::pipeline::provision::ensure;
use crate::pipeline::test_support::{block_on, stack_settings};
use crate::ports::memory::{Lines, MemoryStack};
use shipit_core::error::Error;
use shipit_core::stack::Change;

fn executed(cfn: &MemoryStack) -> usize {
    cfn.calls()
        .iter()
        .filter(|c| c.starts_with("execute_change_set"))
        .count()
}

#[test]
fn a_missing_stack_is_created_protected_and_its_outputs_returned() {
    let cfn = MemoryStack::with_outputs(&[("SiteBucketName", "site-bucket")]);
    let e = block_on(ensure(&cfn, &stack_settings(), &Lines::default())).unwrap();
    assert_eq!(e.action, "created");
    assert_eq!(e.outputs["SiteBucketName"], "site-bucket");
    assert_eq!(cfn.status("site").as_deref(), Some("CREATE_COMPLETE"));
    assert!(cfn
        .calls()
        .contains(&"set_termination_protection site true".to_string()));
}

#[test]
fn an_unchanged_stack_costs_one_describe_and_no_change_set() {
    let cfn = MemoryStack::with_outputs(&[("SiteBucketName", "b")]);
    block_on(ensure(&cfn, &stack_settings(), &Lines::default())).unwrap();
    let before = cfn.calls().len();
    let e = block_on(ensure(&cfn, &stack_settings(), &Lines::default())).unwrap();
    assert_eq!((e.action, e.change_set), ("unchanged", false));
    assert_eq!(
        cfn.calls()[before..],
        ["describe site".to_string(), "template site".to_string()]
    );
}

#[test]
fn the_content_role_deploys_an_unchanged_stack_and_names_the_role_a_change_needs() {
    let cfn = MemoryStack::with_outputs(&[("SiteBucketName", "b")]);
    block_on(ensure(&cfn, &stack_settings(), &Lines::default())).unwrap();
    cfn.read_only();
    let e = block_on(ensure(&cfn, &stack_settings(), &Lines::default())).unwrap();
    assert_eq!(e.action, "unchanged");
    let mut s = stack_settings();
    s.parameters
        .insert("PriceClass".into(), "PriceClass_All".into());
    let err = block_on(ensure(&cfn, &s, &Lines::default())).unwrap_err();
    let Error::Auth { message, hint } = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("stack site needs a change"), "{message}");
    assert!(message.contains("AccessDenied"), "{message}");
    assert!(hint.contains("infrastructure role"), "{hint}");
    assert!(
        hint.contains("stack/iam/infrastructure-role.json"),
        "{hint}"
    );
    assert_eq!(executed(&cfn), 1, "nothing ran after the refusal");
}

#[test]
fn only_a_refusal_is_explained_as_a_stack_change_needing_the_infrastructure_role() {
    let auth = |m: &str| Error::Auth {
        message: m.into(),
        hint: "check the credentials".into(),
    };
    // (the error, whether it is explained as the infrastructure role's job)
    let table = [
        (
            auth("create a change set: access denied (AccessDenied: no)"),
            true,
        ),
        (
            auth("create a change set: access denied (ExpiredToken: expired)"),
            false,
        ),
        (
            auth("create a change set: access denied (SignatureDoesNotMatch: x)"),
            false,
        ),
        (Error::config("not an auth error"), false),
        // A refused staging of the template names its own statements instead.
        (
            auth("staging the stack's template was refused: put object (AccessDenied: no)"),
            false,
        ),
    ];
    for (e, explained) in table {
        let shown = format!(
            "{:?}",
            crate::pipeline::provision::needs_infrastructure_role(e, "site", false)
        );
        assert_eq!(shown.contains("infrastructure role"), explained, "{shown}");
    }
    let created = crate::pipeline::provision::needs_infrastructure_role(
        auth("(AccessDenied: no)"),
        "site",
        true,
    );
    assert!(format!("{created:?}").contains("stack site does not exist yet"));
}

#[test]
fn a_parameter_change_updates_through_a_change_set() {
    let cfn = MemoryStack::with_outputs(&[("SiteBucketName", "b")]);
    block_on(ensure(&cfn, &stack_settings(), &Lines::default())).unwrap();
    let mut s = stack_settings();
    s.parameters
        .insert("PriceClass".into(), "PriceClass_All".into());
    let e = block_on(ensure(&cfn, &s, &Lines::default())).unwrap();
    assert_eq!(e.action, "updated");
    assert_eq!(executed(&cfn), 2);
}

#[test]
fn replacing_a_stateful_resource_is_refused_unless_allowed() {
    let cfn = MemoryStack::with_outputs(&[("SiteBucketName", "b")]);
    block_on(ensure(&cfn, &stack_settings(), &Lines::default())).unwrap();
    let replace = Change {
        logical_id: "Table".into(),
        kind: "AWS::DynamoDB::Table".into(),
        action: "Modify".into(),
        replacement: Some("True".into()),
    };
    let mut s = stack_settings();
    s.parameters
        .insert("PriceClass".into(), "PriceClass_All".into());
    cfn.next_changes(vec![replace.clone()]);
    let err = block_on(ensure(&cfn, &s, &Lines::default())).unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    assert!(err.to_string().contains("Table"), "{err}");
    assert_eq!(executed(&cfn), 1, "only the create ran");
    assert!(cfn.calls().last().unwrap().starts_with("delete_change_set"));
    s.allow_replace = true;
    cfn.next_changes(vec![replace]);
    block_on(ensure(&cfn, &s, &Lines::default())).unwrap();
    assert_eq!(executed(&cfn), 2);
}

#[test]
fn stuck_statuses_are_explained_and_nothing_is_attempted() {
    for (status, words) in [
        ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback"),
        ("DELETE_FAILED", "shipit destroy"),
        ("ROLLBACK_FAILED", "shipit destroy"),
        ("SOMETHING_NEW", "does not know the stack status"),
    ] {
        let cfn = MemoryStack::default();
        cfn.seed("site", status, Some("a resource failed"));
        let err = block_on(ensure(&cfn, &stack_settings(), &Lines::default())).unwrap_err();
        assert!(matches!(err, Error::Stack { .. }), "{status}: {err}");
        assert!(err.to_string().contains(status), "{err}");
        assert!(
            err.hint().unwrap().contains(words),
            "{status}: {:?}",
            err.hint()
        );
        assert_eq!(cfn.calls(), ["describe site"], "{status}");
    }
}

#[test]
fn a_failed_create_is_explained_then_recreated_only_with_recreate() {
    let cfn = MemoryStack::with_outputs(&[("SiteBucketName", "b")]);
    cfn.fail_next_execution("SiteBucket", "Bucket name already taken");
    let err = block_on(ensure(&cfn, &stack_settings(), &Lines::default())).unwrap_err();
    assert!(
        err.to_string().contains("Bucket name already taken"),
        "{err}"
    );
    assert_eq!(cfn.status("site").as_deref(), Some("ROLLBACK_COMPLETE"));
    let err = block_on(ensure(&cfn, &stack_settings(), &Lines::default())).unwrap_err();
    assert!(
        err.hint().unwrap().contains("--recreate"),
        "{:?}",
        err.hint()
    );
    let mut s = stack_settings();
    s.recreate = true;
    let e = block_on(ensure(&cfn, &s, &Lines::default())).unwrap();
    assert_eq!(e.action, "created");
    assert!(cfn.calls().contains(&"delete_stack site".to_string()));
}
