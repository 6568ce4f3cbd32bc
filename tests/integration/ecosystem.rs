//! What users expect around the deploy itself: the GitHub workflows and action pass the
//! offline checks (and the checks catch what they should), `shipit init`, completions, and
//! the GitHub Actions output (groups, annotations, the job summary).

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{assert_exit, assert_success, stderr, stdout, World};

fn lint(files: &[&Path]) -> Output {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lint-workflows"))
        .args(files)
        .output()
        .expect("run scripts/lint-workflows")
}

fn text(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

#[test]
fn the_workflows_and_the_action_pass_the_offline_checks() {
    let out = lint(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("6 files"),
        "aws-e2e, ci, deploy, lint-latest, release and action.yml: {}",
        text(&out)
    );
}

#[test]
fn the_offline_checks_catch_unpinned_actions_injection_and_shell_bugs() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "name: bad\non:\n  issues:\n    types: [opened]\njobs:\n  greet:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n      - run: echo \"${{ github.event.issue.title }}\"\n      - run: |\n          files=$(ls *.txt)\n          rm $files\n",
    )
    .unwrap();
    let out = lint(&[&bad]);
    assert!(!out.status.success());
    let t = text(&out);
    for finding in ["unpinned-uses", "template-injection", "SC2086"] {
        assert!(t.contains(finding), "{finding} not reported:\n{t}");
    }
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        "name: broken\non: push\njobs:\n  x:\n    steps: 3\n",
    )
    .unwrap();
    let out = lint(&[&broken]);
    assert!(
        !out.status.success(),
        "a schema error passes: {}",
        text(&out)
    );
}

#[test]
fn init_writes_a_config_and_a_checked_workflow_and_never_overwrites() {
    let w = World::new("init");
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join("package.json"),
        r#"{"scripts":{"build":"vite build"}}"#,
    )
    .unwrap();
    let root = repo.path().to_str().unwrap();
    let out = w
        .cmd(&["init", "--root", root, "--stack", "shop-site"])
        .output()
        .unwrap();
    assert_success(&out);
    let config = std::fs::read_to_string(repo.path().join("shipit.toml")).unwrap();
    assert!(config.contains("name = \"shop-site\""), "{config}");
    let workflow = repo.path().join(".github/workflows/deploy.yml");
    let body = std::fs::read_to_string(&workflow).unwrap();
    assert!(
        body.contains("directory: dist") && body.contains("npm run build"),
        "{body}"
    );
    let out = lint(&[&workflow]);
    assert!(
        out.status.success(),
        "the generated workflow fails the checks:\n{}",
        text(&out)
    );

    // Not on a terminal, nothing is asked; existing files are never overwritten without --force.
    std::fs::write(repo.path().join("shipit.toml"), "# mine\n").unwrap();
    let out = w.cmd(&["init", "--root", root]).output().unwrap();
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("not overwriting"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(repo.path().join("shipit.toml")).unwrap(),
        "# mine\n"
    );
    assert_success(
        &w.cmd(&["init", "--root", root, "--force"])
            .output()
            .unwrap(),
    );
    let config = std::fs::read_to_string(repo.path().join("shipit.toml")).unwrap();
    let dir_name = repo
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_lowercase();
    assert!(config.contains("name = \""), "{config}");
    assert!(
        config.contains(&shipit_core::stack::suggest_name(&dir_name)),
        "the stack name comes from the directory: {config}"
    );
}

#[test]
fn completions_for_each_shell() {
    let w = World::new("completions");
    for (shell, marker) in [
        ("bash", "_shipit()"),
        ("zsh", "#compdef shipit"),
        ("fish", "complete -c shipit"),
    ] {
        let out = w.cmd(&["completions", shell]).output().unwrap();
        assert_success(&out);
        let script = stdout(&out);
        assert!(script.contains(marker), "{shell}: {script}");
        for sub in ["deploy", "verify", "preview", "init"] {
            assert!(script.contains(sub), "{shell} lacks {sub}");
        }
    }
    let out = w.cmd(&["completions", "tcsh"]).output().unwrap();
    assert_exit(&out, 2);
}

#[test]
fn github_actions_gets_groups_annotations_and_a_job_summary() {
    let w = World::new("gha");
    w.write(
        "index.html",
        "<!doctype html><title>gha</title><script src=\"/assets/app.5d41402a.js\"></script>",
    );
    w.write("assets/app.5d41402a.js", "1");
    let site = w.site().to_str().unwrap().to_string();
    let edge = w.edge(&[&site]);
    let summary = w.home.path().join("summary.md");
    let out = w
        .cmd(&[
            "deploy",
            &site,
            "--bucket",
            &w.bucket,
            "--url",
            &edge.url,
            "--verify-timeout",
            "5",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_success(&out);
    let err = stderr(&out);
    assert!(err.contains("::group::planning"), "{err}");
    assert!(err.contains("::endgroup::"), "{err}");
    assert!(!err.contains("==> "), "stage lines become groups: {err}");
    let md = std::fs::read_to_string(&summary).unwrap();
    for want in [
        "## shipit deploy succeeded",
        "| uploaded | headers updated | deleted |",
        "| 2 | 0 | 0 | 0 |",
        "### Verification: passed",
        "| apex | ✅ pass |",
        &format!("**Site:** {}", edge.url),
    ] {
        assert!(md.contains(want), "{want:?} missing:\n{md}");
    }

    // A failure is an annotation and a summary that says why.
    let empty = tempfile::tempdir().unwrap();
    let out = w
        .cmd(&[
            "deploy",
            empty.path().to_str().unwrap(),
            "--bucket",
            &w.bucket,
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("::error title=shipit::"),
        "{}",
        stderr(&out)
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("## shipit deploy failed"), "{md}");
    assert!(md.contains("> **Error:**"), "{md}");
}
