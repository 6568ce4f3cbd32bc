//! The stack's parameters (SSM SecureStrings under `/shipit/STACK/`, `shipit params`) for an API
//! in containers: each becomes a secret of the task definition (ECS resolves it when a task
//! starts, into that variable; never the plain environment), and their versions a stack
//! parameter, so a changed value is a new revision that ECS rolls out, and a release records
//! the versions its tasks ran with.

use shipit_core::container::{self, BACKEND_PARAMETER, VERSIONS_PARAMETER};
use shipit_core::error::{Error, Result};
use shipit_core::settings::StackSettings;
use shipit_core::stack::StackInfo;

use crate::ports::{Parameters, Reporter};

/// `NAME:VERSION,...` of `found` (by name).
pub fn versions(found: &[(String, u64)]) -> String {
    found
        .iter()
        .map(|(n, v)| format!("{n}:{v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether the deploy runs the API in containers: the backend it names, else the stack's.
pub fn runs_containers(stack: &StackSettings, info: Option<&StackInfo>) -> bool {
    let live = info.and_then(|i| i.parameters.get(BACKEND_PARAMETER));
    stack
        .parameters
        .get(BACKEND_PARAMETER)
        .or(live)
        .map(String::as_str)
        == Some("container")
}

/// CloudFormation's limit on a parameter's value.
const MAX_VERSIONS: usize = 4096;

/// For a deploy that runs containers: the stack's parameters as the tasks' secrets, and
/// their versions as `ContainerParameterVersions`. A parameter whose name cannot be one of the
/// tasks' variables is left out, with a warning (the tasks may still read it themselves, under
/// PARAMETER_PATH). Refused: the versions set by hand, and more than CloudFormation's
/// parameter can hold.
pub async fn attach(
    ssm: &dyn Parameters,
    stack: &mut StackSettings,
    info: Option<&StackInfo>,
    reporter: &dyn Reporter,
) -> Result<()> {
    if !runs_containers(stack, info) {
        return Ok(());
    }
    if stack.parameters.contains_key(VERSIONS_PARAMETER) {
        return Err(Error::config_hint(
            format!("the stack parameter {VERSIONS_PARAMETER} is set by hand"),
            "remove it: shipit sets it from the stack's parameters (`shipit params`)",
        ));
    }
    let path = container::parameter_path(&stack.name);
    let mut found = ssm.list(&path).await?;
    found.retain(|(name, _)| match container::parameter_name_refused(name) {
        None => true,
        Some(why) => {
            reporter.warn(&format!(
                "api: {path}{name} is not given to the tasks as a secret: {why} (they can read it themselves under PARAMETER_PATH)"
            ));
            false
        }
    });
    let listed = versions(&found);
    if listed.len() > MAX_VERSIONS {
        return Err(Error::config_hint(
            format!(
                "stack {}'s {} parameters' names and versions take {} characters, and CloudFormation's parameter takes {MAX_VERSIONS}",
                stack.name,
                found.len(),
                listed.len()
            ),
            "keep fewer parameters (one JSON document can hold many settings)",
        ));
    }
    if !found.is_empty() {
        reporter.info(&format!(
            "api: {} parameter(s) reach the tasks as secrets: {}",
            found.len(),
            found
                .iter()
                .map(|(n, v)| format!("{n} (v{v})"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    stack.task_secrets = found.iter().map(|(n, _)| n.clone()).collect();
    stack
        .parameters
        .insert(VERSIONS_PARAMETER.to_string(), listed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::test_support::{block_on, stack_settings};
    use crate::ports::memory::Lines;
    use crate::ports::Call;

    struct Found(Vec<(String, u64)>);

    impl Parameters for Found {
        fn list<'a>(&'a self, path: &'a str) -> Call<'a, Vec<(String, u64)>> {
            assert_eq!(path, "/shipit/site/");
            Box::pin(async move { Ok(self.0.clone()) })
        }
        fn put<'a>(&'a self, _: &'a str, _: &'a str) -> Call<'a, u64> {
            unreachable!("a deploy never sets a parameter")
        }
        fn get<'a>(&'a self, _: &'a str) -> Call<'a, Option<(String, u64)>> {
            unreachable!("a deploy never reads a value")
        }
        fn delete<'a>(&'a self, _: &'a str) -> Call<'a, ()> {
            unreachable!("a deploy never deletes a parameter")
        }
    }

    fn container() -> StackSettings {
        let mut s = stack_settings();
        s.parameters
            .insert(BACKEND_PARAMETER.into(), "container".into());
        s
    }

    #[test]
    fn a_container_deploy_gives_the_tasks_every_parameter_and_their_versions() {
        let found = Found(vec![("API_TOKEN".into(), 2), ("FLAGS".into(), 7)]);
        let mut s = container();
        block_on(attach(&found, &mut s, None, &Lines::default())).unwrap();
        assert_eq!(s.task_secrets, ["API_TOKEN", "FLAGS"]);
        assert_eq!(s.parameters[VERSIONS_PARAMETER], "API_TOKEN:2,FLAGS:7");
        // None at all: the versions are empty (a parameter deleted rolls the tasks out too).
        let mut s = container();
        block_on(attach(&Found(vec![]), &mut s, None, &Lines::default())).unwrap();
        assert_eq!(s.parameters[VERSIONS_PARAMETER], "");
    }

    #[test]
    fn a_function_deploy_asks_nothing_and_a_bad_name_or_a_hand_set_version_is_refused() {
        // Found::list would panic on another stack's path; a function stack is not asked.
        let mut s = stack_settings();
        let live = StackInfo {
            parameters: [(BACKEND_PARAMETER.to_string(), "function".to_string())].into(),
            ..StackInfo::default()
        };
        block_on(attach(
            &Found(vec![]),
            &mut s,
            Some(&live),
            &Lines::default(),
        ))
        .unwrap();
        assert!(!s.parameters.contains_key(VERSIONS_PARAMETER));
        // The stack's own backend counts when the deploy names none.
        let container_live = StackInfo {
            parameters: [(BACKEND_PARAMETER.to_string(), "container".to_string())].into(),
            ..StackInfo::default()
        };
        assert!(runs_containers(&stack_settings(), Some(&container_live)));
        // A name the tasks cannot take is left out, said; the others go on.
        let mixed = Found(vec![
            ("PORT".into(), 1),
            ("db-url".into(), 1),
            ("OK".into(), 4),
        ]);
        let lines = Lines::default();
        let mut s = container();
        block_on(attach(&mixed, &mut s, None, &lines)).unwrap();
        assert_eq!(s.task_secrets, ["OK"]);
        assert_eq!(s.parameters[VERSIONS_PARAMETER], "OK:4");
        let said = lines.lines().join("\n");
        assert!(
            said.contains("/shipit/site/PORT") && said.contains("/shipit/site/db-url"),
            "{said}"
        );
        // More than CloudFormation's parameter holds is refused before any change.
        let many = Found((0..400).map(|i| (format!("PARAMETER_{i}"), 1)).collect());
        let e = block_on(attach(&many, &mut container(), None, &Lines::default())).unwrap_err();
        assert!(e.to_string().contains("4096"), "{e}");
        let mut s = container();
        s.parameters.insert(VERSIONS_PARAMETER.into(), "X:1".into());
        assert!(block_on(attach(&found_none(), &mut s, None, &Lines::default())).is_err());
    }

    fn found_none() -> Found {
        Found(vec![])
    }
}
