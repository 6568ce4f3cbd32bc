//! Everything shipit says: the terminal reporter (stderr), GitHub Actions' annotations and job
//! summary, and the one writer of stdout.

pub mod gha;
pub mod stdout;
pub mod term;
