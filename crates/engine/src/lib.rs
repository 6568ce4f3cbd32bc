//! shipit's engine: the interfaces to the outside world (`ports`: object store, CDN, stack
//! service, functions, account, databases, reporter) and the orchestration over them
//! (`pipeline`: scan, plan, upload, provision, verify, go live, finish, records, lock), with
//! what they share: a plain HTTP client for verification (`http`), the process-wide request
//! to stop safely (`interrupt`) and the clock (`clock`). Decisions are `shipit_core`'s; the
//! SDK is `shipit_aws`'s, reached only through `ports`. The in-memory doubles of the ports
//! (`ports::memory`) exist for tests and the `testing` feature, never in a release binary.

pub mod clock;
pub mod http;
pub mod interrupt;
pub mod pipeline;
pub mod ports;
