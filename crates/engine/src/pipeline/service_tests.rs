//! The container backend after the stack, against the in-memory stack service: a rolled-out
//! revision checked through the API, a failed check putting the previous image back (the
//! stack's own template and parameters, one changed) before anything else happens, and what is
//! said when there is nothing to check or nothing to go back to.

use std::time::Duration;

use crate::pipeline::api::ApiCheck;
use crate::pipeline::provision::ensure;
use crate::pipeline::service::settle;
use crate::pipeline::test_support::{block_on, stack_settings};
use crate::ports::memory::{Lines, MemoryStack};
use crate::ports::StackService;
use shipit_core::error::Error;
use shipit_core::settings::StackSettings;
use shipit_core::stack::Change;

fn image(byte: &str) -> String {
    format!(
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:{}",
        byte.repeat(32)
    )
}

fn running(image: &str) -> StackSettings {
    let mut s = stack_settings();
    for (k, v) in [("ApiBackend", "container"), ("ContainerImage", image)] {
        s.parameters.insert(k.into(), v.into());
    }
    s
}

fn rolled(logical_id: &str) -> Vec<Change> {
    vec![Change {
        logical_id: logical_id.into(),
        kind: "AWS::ECS::TaskDefinition".into(),
        action: "Modify".into(),
        replacement: Some("True".into()),
    }]
}

fn answering(ok: bool) -> Box<ApiCheck<'static>> {
    Box::new(move || {
        Box::pin(async move {
            if ok {
                Ok(())
            } else {
                Err("GET http://api/live/health answered 502".to_string())
            }
        })
    })
}

fn image_of(cfn: &MemoryStack) -> String {
    block_on(cfn.describe("site")).unwrap().unwrap().parameters["ContainerImage"].clone()
}

/// `settle` after the update to image `b`, with `check` (an URL's) or none, and no retries.
fn settle_b(
    cfn: &MemoryStack,
    before: Option<&shipit_core::stack::StackInfo>,
    e: &crate::pipeline::provision::Ensured,
    check: Option<&ApiCheck<'static>>,
    lines: &Lines,
) -> shipit_core::error::Result<Option<shipit_core::release::ApiVersion>> {
    block_on(settle(
        cfn,
        &running(&image("b")),
        before,
        e,
        check.map(|c| ("http://api/live", c)),
        Duration::ZERO,
        lines,
    ))
}

/// A container stack on image `a`, then updated to image `b` (the revision rolled out).
fn updated() -> (
    MemoryStack,
    shipit_core::stack::StackInfo,
    crate::pipeline::provision::Ensured,
) {
    let cfn = MemoryStack::with_outputs(&[
        ("SiteBucketName", "b"),
        ("ServiceName", "arn:aws:ecs:us-east-1:1:service/c/site-api"),
        (
            "TaskDefinitionArn",
            "arn:aws:ecs:us-east-1:1:task-definition/site-api:2",
        ),
    ]);
    block_on(ensure(&cfn, &running(&image("a")), &Lines::default())).unwrap();
    let before = block_on(cfn.describe("site")).unwrap().unwrap();
    cfn.next_changes(rolled("TaskDefinition"));
    let e = block_on(ensure(&cfn, &running(&image("b")), &Lines::default())).unwrap();
    (cfn, before, e)
}

#[test]
fn a_revision_that_answers_through_the_api_is_what_the_release_records() {
    let (cfn, before, e) = updated();
    let check = answering(true);
    let lines = Lines::default();
    let v = settle_b(&cfn, Some(&before), &e, Some(&*check), &lines)
        .unwrap()
        .unwrap();
    assert_eq!(v.image.as_deref(), Some(image("b").as_str()));
    assert_eq!(
        (v.function.as_str(), v.version.as_str()),
        ("site-api", "site-api:2")
    );
    assert_eq!(image_of(&cfn), image("b"));
}

#[test]
fn a_revision_that_does_not_answer_puts_the_previous_image_back_and_fails() {
    let (cfn, before, e) = updated();
    let check = answering(false);
    let executed = |cfn: &MemoryStack| {
        cfn.calls()
            .iter()
            .filter(|c| c.starts_with("execute_change_set"))
            .count()
    };
    let ran = executed(&cfn);
    let err = settle_b(&cfn, Some(&before), &e, Some(&*check), &Lines::default()).unwrap_err();
    let Error::Refused { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("answered 502"), "{message}");
    assert!(
        message.contains(&format!("back on {}", image("a"))),
        "{message}"
    );
    assert!(message.contains("the site was not changed"), "{message}");
    assert_eq!(image_of(&cfn), image("a"));
    assert_eq!(executed(&cfn), ran + 1, "one update: the image put back");
}

#[test]
fn the_first_image_has_nothing_to_go_back_to_and_keeps_running() {
    let (cfn, _, e) = updated();
    let check = answering(false);
    let err = settle_b(&cfn, None, &e, Some(&*check), &Lines::default()).unwrap_err();
    assert!(err.to_string().contains("no earlier image"), "{err}");
    assert_eq!(image_of(&cfn), image("b"));
}

#[test]
fn without_a_url_or_a_rollout_nothing_is_asked() {
    let (cfn, before, mut e) = updated();
    let lines = Lines::default();
    let v = settle_b(&cfn, Some(&before), &e, None, &lines).unwrap();
    assert!(v.is_some());
    assert!(
        lines
            .lines()
            .iter()
            .any(|l| l.contains("not checked through the API")),
        "{:?}",
        lines.lines()
    );
    // Nothing rolled out (an unrelated change): the check is not asked, however it would answer.
    e.changes = rolled("Table");
    let check = answering(false);
    let v = settle_b(&cfn, Some(&before), &e, Some(&*check), &Lines::default()).unwrap();
    assert!(v.is_some());
}
