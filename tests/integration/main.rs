//! Integration tests: the real `shipit` binary against the local cloud (moto), with a
//! recording proxy in between. Outcomes are checked through the S3 API, never through
//! shipit's own report.

mod support;

mod api;
mod architecture;
mod aws_e2e;
mod browser;
mod container;
mod contract;
mod demo;
mod ecosystem;
mod faults;
mod hardening;
mod lambda;
mod preflight;
mod regressions;
mod releases;
mod reliability;
mod snapshots;
mod stack;
mod sync;
mod template;
mod template_container;
mod verify;
