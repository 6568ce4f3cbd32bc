//! shipit's pure core: decisions on plain data. What to upload, update and delete (`plan`,
//! `headers`, `files`, `state`), what to invalidate (`invalidate`), what a release is and what
//! it writes (`release`), what the stack needs (`stack`, `template`, `preflight`, `package`,
//! `container`: the image a container backend runs and its task size),
//! what a verification's answers mean (`verify`, `checks`), the API's pre-traffic gate's
//! requests and answers (`lambda`), settings as data (`settings`), and the error type every
//! crate returns (`error`, a leaf). Nothing here performs I/O on the network or names an async
//! runtime or an SDK (`aws_*`, `tokio`, `hyper`): this crate does not depend on them, and a test
//! in `tests/integration/architecture.rs` keeps its code from naming them.

pub mod checks;
pub mod concurrency;
pub mod container;
pub mod error;
pub mod files;
pub mod headers;
pub mod invalidate;
pub mod lambda;
pub mod listing;
pub mod lock;
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
