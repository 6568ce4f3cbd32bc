//! shipit's local cloud: what AWS does that moto does not, emulated on loopback for
//! `shipit preview`, the demo and the tests. `model` decides, on plain data, what CloudFront
//! (`edge`, `distribution`, `origins`, with `evaluate`: enough of CloudFormation's template
//! evaluation to read a build's distribution from the template), API Gateway (`apigw`, `vtl`)
//! and the Lambda runtime (`lambda`) answer; `servers` serves them over HTTP and
//! runs the functions. The AWS APIs themselves are the Python rig's (`crates/local-cloud/rig`, on moto, with
//! IAM's policy evaluation in `rig/iam.py` and `rig/function_identity.py`);
//! the two halves speak the `/_shipit/*` contract documented in
//! `docs/local-cloud-contract.md`. Only the `shipit` binary's composition root chooses between
//! this crate and `shipit_aws`.

pub mod model;
pub mod servers;
