//! Errors shipit reports to a user, and the stable exit code of each kind. A leaf: it names
//! no other module but the verification report a `Broken` error carries.
//!
//! Every stage returns an [`Error`]; `main` turns it into a message, an optional `hint:`
//! line and an exit code. The codes are documented in the README and never renumbered.

use std::path::PathBuf;

/// Stable process exit codes.
pub mod exit {
    /// Everything asked for succeeded.
    pub const OK: i32 = 0;
    /// A bug in shipit: please report it.
    pub const INTERNAL: i32 = 1;
    /// Bad command line or configuration file.
    pub const USAGE: i32 = 2;
    /// The build directory was refused (missing, empty, no index.html, bad file name, symlink).
    pub const BAD_INPUT: i32 = 3;
    /// A safety cap refused the deploy (for example a prune larger than the cap).
    pub const REFUSED: i32 = 4;
    /// Credentials are missing or do not grant access.
    pub const AUTH: i32 = 5;
    /// An AWS operation failed (network, throttling after retries, service error).
    pub const AWS: i32 = 6;
    /// The CloudFormation stack failed, is stuck, or the change was refused.
    pub const STACK: i32 = 7;
    /// The deploy went through but the site does not work: `verify` failed (nothing was pruned).
    pub const SITE_BROKEN: i32 = 8;
    /// One of shipit's records in the bucket (manifest, release, lock) cannot be read as one.
    pub const STATE: i32 = 9;
    /// Stopped by Ctrl-C (SIGINT): in-flight requests finished, the lock released, no prune.
    pub const INTERRUPTED: i32 = 130;
    /// Stopped by SIGTERM (a cancelled CI job), the same way.
    pub const TERMINATED: i32 = 143;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Config {
        message: String,
        hint: Option<String>,
    },

    #[error("{message}: {}", path.display())]
    Input {
        message: String,
        path: PathBuf,
        hint: Option<String>,
    },

    #[error("{message}")]
    Refused { message: String, hint: String },

    /// The preflight found what AWS would refuse; `findings` is its report (JSON), shown in
    /// `--json` output beside the error.
    #[error("{message}")]
    Preflight {
        message: String,
        hint: String,
        findings: serde_json::Value,
    },

    #[error("{message}")]
    Auth { message: String, hint: String },

    #[error("{message}")]
    Aws {
        message: String,
        hint: Option<String>,
    },

    #[error("{message}")]
    Stack { message: String, hint: String },

    /// A record shipit keeps in the bucket is damaged or was not written by shipit.
    #[error("{message}")]
    State { message: String, hint: String },

    /// Verification failed; the report is for `--json` and the job summary.
    #[error("{message}")]
    Broken {
        message: String,
        hint: String,
        report: Box<crate::checks::Report>,
    },

    /// A signal stopped the run (see `interrupt`).
    #[error("{message}")]
    Interrupted { signal: i32, message: String },

    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
            hint: None,
        }
    }

    pub fn config_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn input(message: impl Into<String>, path: impl Into<PathBuf>, hint: Option<&str>) -> Self {
        Error::Input {
            message: message.into(),
            path: path.into(),
            hint: hint.map(str::to_owned),
        }
    }

    pub fn aws(message: impl Into<String>) -> Self {
        Error::Aws {
            message: message.into(),
            hint: None,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. } => exit::USAGE,
            Error::Input { .. } => exit::BAD_INPUT,
            Error::Refused { .. } | Error::Preflight { .. } => exit::REFUSED,
            Error::Auth { .. } => exit::AUTH,
            Error::Aws { .. } => exit::AWS,
            Error::Stack { .. } => exit::STACK,
            Error::State { .. } => exit::STATE,
            Error::Interrupted { signal: 15, .. } => exit::TERMINATED,
            Error::Interrupted { .. } => exit::INTERRUPTED,
            Error::Broken { .. } => exit::SITE_BROKEN,
            Error::Internal(_) => exit::INTERNAL,
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Config { hint, .. } | Error::Input { hint, .. } | Error::Aws { hint, .. } => {
                hint.as_deref()
            }
            Error::Refused { hint, .. }
            | Error::Preflight { hint, .. }
            | Error::Auth { hint, .. }
            | Error::Stack { hint, .. }
            | Error::State { hint, .. }
            | Error::Broken { hint, .. } => Some(hint),
            Error::Interrupted { .. } => {
                Some("the deploy lock (if this run held it) was released; run the same command again to finish")
            }
            Error::Internal(_) => {
                Some("this is a bug in shipit; please report it with the command you ran")
            }
        }
    }

    /// A short machine-readable name for `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config { .. } => "config",
            Error::Input { .. } => "input",
            Error::Refused { .. } => "refused",
            Error::Preflight { .. } => "preflight",
            Error::Auth { .. } => "auth",
            Error::Aws { .. } => "aws",
            Error::Stack { .. } => "stack",
            Error::State { .. } => "state",
            Error::Interrupted { .. } => "interrupted",
            Error::Broken { .. } => "site_broken",
            Error::Internal(_) => "internal",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
