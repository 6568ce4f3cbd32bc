//! `scripts/aws-e2e`, the end-to-end check anyone with an AWS account can run, run here on the
//! local cloud so it cannot rot: a unique stack with the API, verified, a second API version
//! through a canary, a rollback to the first, and a teardown that leaves nothing (the script
//! checks that through the AWS APIs itself, and says so last).

use std::process::Command;

#[test]
fn the_real_account_check_runs_green_on_the_local_cloud() {
    let root = env!("CARGO_MANIFEST_DIR");
    let stack = format!("e2e-test-{}", std::process::id());
    let out = Command::new(format!("{root}/scripts/aws-e2e"))
        .arg("--local")
        .env("SHIPIT_BIN", env!("CARGO_BIN_EXE_shipit"))
        .env("SHIPIT_E2E_STACK", &stack)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run scripts/aws-e2e");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "aws-e2e failed:\n{stderr}");
    let versions: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("live alias: version "))
        .collect();
    assert_eq!(versions.len(), 3, "{stderr}");
    assert_ne!(versions[0], versions[1], "the canary moved the alias");
    assert_eq!(versions[2], format!("{} again", versions[0]), "rollback");
    assert!(
        stderr.contains(&format!("aws-e2e: passed; nothing of {stack} is left")),
        "{stderr}"
    );
}
