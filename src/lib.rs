//! shipit: deploy a static site (and its stack) to AWS by content hash, verify it, roll it back.
//!
//! The layers, each depending only on those below it:
//! - `core`: pure decisions on plain data (headers, plan, state, releases, invalidation paths,
//!   stack decisions, the template evaluator, the local edge's routing, verification verdicts,
//!   settings as data). No network, no async runtime, no SDK.
//! - `checks`: a verification's report as plain data (each check's outcome, evidence and
//!   cause), a leaf below both `core`, which decides the outcomes, and `error`, whose
//!   `Broken` carries the report.
//! - `error`: typed errors, hints and exit codes; `interrupt`: the process-wide request to
//!   stop safely that the first SIGINT/SIGTERM sets and every stage checks.
//! - `ports`: the interfaces the pipeline drives (object store, CDN, stack service, functions,
//!   account, databases, reporter), and in-memory doubles of those the pipeline's tests drive
//!   (the store can fail at any call), compiled for tests only.
//! - `aws`: the SDK implementations of those interfaces; the only place SDK types appear.
//!   `http`: a plain HTTP client for verification and the edge.
//! - `pipeline`: orchestration over the interfaces: scan, deploy, invalidate, verify, finish,
//!   records, lock, provision.
//! - `edge`: the local CloudFront (`shipit preview`); `output`: the terminal, GitHub Actions
//!   and stdout; `cli` and `config`: flags, environment and `shipit.toml` into settings, once.
//!
//! The binary's commands (`src/cmd/`) sit on top: resolve settings, build the clients, call
//! the pipeline, print.

pub mod aws;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod edge;
pub mod error;
pub mod http;
pub mod interrupt;
pub mod output;
pub mod pipeline;
pub mod ports;
