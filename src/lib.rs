//! shipit: deploy a static site to S3 by content hash, safely.
//!
//! The pure core (`headers`, `plan`, `state`, `config`, `invalidate`, `stack`, `verify`'s
//! verdicts, `edge`'s decisions) decides; `site` reads the build; `s3`, `cfn`, `cdn` and
//! `aws` talk to AWS and `http` to sites; `deploy` runs a plan; `edge::serve` answers as
//! CloudFront would; `report` owns human output.

pub mod aws;
pub mod cdn;
pub mod cfn;
pub mod cli;
pub mod clock;
pub mod config;
pub mod deploy;
pub mod edge;
pub mod error;
pub mod evaluate;
pub mod gha;
pub mod headers;
pub mod http;
pub mod init;
pub mod invalidate;
pub mod lock;
pub mod plan;
pub mod provision;
pub mod release;
pub mod report;
pub mod s3;
pub mod site;
pub mod stack;
pub mod state;
pub mod template;
pub mod verify;
