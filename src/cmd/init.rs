//! `shipit init`.

use std::io::{IsTerminal, Write};

use crate::output::term::Terminal;
use shipit_core::error::{Error, Result};
use shipit_core::stack::check_stack_name;
use shipit_engine::ports::Reporter;

/// `shipit init`: asks on a terminal, uses flags and guesses otherwise.
pub(crate) fn init(args: &crate::cli::InitArgs, reporter: &Terminal) -> Result<()> {
    use crate::scaffold as init;
    let root = &args.root;
    if !root.is_dir() {
        return Err(Error::input(
            "not a directory",
            root,
            Some("--root is the repository's root"),
        ));
    }
    let name = std::fs::canonicalize(root)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let (guessed_dir, npm_dir) = init::suggest_build_dir(root);
    let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let ask = |question: &str, default: String| -> Result<String> {
        if !tty {
            return Ok(default);
        }
        eprint!("{question} [{default}]: ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| Error::Internal(format!("reading the answer: {e}")))?;
        let answer = answer.trim();
        Ok(if answer.is_empty() {
            default
        } else {
            answer.to_string()
        })
    };
    let stack = match &args.stack {
        Some(s) => s.clone(),
        None => ask("Stack name", shipit_core::stack::suggest_name(&name))?,
    };
    check_stack_name(&stack)?;
    let build_dir = match &args.build_dir {
        Some(d) => d.clone(),
        None => ask("Build output directory", guessed_dir)?,
    };
    let answers = init::Answers {
        stack,
        build_dir,
        npm_dir,
        region: args.aws_region.clone(),
    };
    for path in init::write(root, &init::files(&answers), args.force)? {
        reporter.info(&format!("wrote {}", path.display()));
    }
    reporter.stage(&format!(
        "next: set the repository variable AWS_DEPLOY_ROLE_ARN (see stack/README.md for the role), then `shipit deploy {} --stack {}` or push to main",
        answers.build_dir, answers.stack
    ));
    Ok(())
}
