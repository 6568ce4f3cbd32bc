//! Orchestration over the boundary's interfaces: scan a build, plan and run a deploy (`ship`:
//! the whole sequence), the deploy lock, the stack, verification's requests. Decisions are the core's; AWS is reached
//! only through the interfaces in `ports`.

pub mod api;
pub mod deploy;
pub mod finish;
pub mod invalidate;
pub mod limit;
pub mod local_image;
pub mod lock;
pub mod package;
pub mod parameters;
pub mod preflight;
pub mod provision;
pub mod records;
pub mod scan;
pub mod service;
pub mod ship;
pub mod verify;

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod provision_tests;

#[cfg(test)]
mod api_tests;

#[cfg(test)]
mod service_tests;
