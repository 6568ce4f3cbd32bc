//! shipit: deploy a static site to S3 by content hash, safely.
//!
//! The pure core (`headers`, `plan`, `state`, `config`) decides; `site` reads the build;
//! `s3` and `aws` are the only modules that talk to AWS; `deploy` runs a plan;
//! `report` owns human output.

pub mod aws;
pub mod cdn;
pub mod cfn;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod error;
pub mod headers;
pub mod invalidate;
pub mod plan;
pub mod provision;
pub mod report;
pub mod s3;
pub mod site;
pub mod stack;
pub mod state;
pub mod template;
