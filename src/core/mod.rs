//! The pure core: decisions on plain data. Nothing here performs I/O on the network or names
//! an async runtime or an SDK (`aws_*`, `tokio`, `hyper`); a test in `tests/` keeps it so.

pub mod apigw;
pub mod concurrency;
pub mod distribution;
pub mod edge;
pub mod evaluate;
pub mod files;
pub mod headers;
pub mod invalidate;
pub mod lambda;
pub mod listing;
pub mod lock;
pub mod origins;
pub mod package;
pub mod plan;
pub mod preflight;
pub mod release;
pub mod runtime_config;
pub mod settings;
pub mod stack;
pub mod state;
pub mod summary;
pub mod template;
pub mod verify;
pub mod vtl;
