//! The local cloud's servers, on 127.0.0.1. `serve` is the local edge: CloudFront's serving
//! for `shipit preview` (a build directory with the template's distribution, or a stack in the
//! local cloud) and for the tests. What
//! CloudFront decides per request is `model::edge`; where a distribution's configuration comes
//! from is `model::distribution`; `serve` serves HTTP and reads the origin. `lambda` is the local
//! Lambda runtime: the Runtime API and a function's runtime process; `apigw` the local API
//! Gateway in front of it; `invoke` Lambda's Invoke for the pre-traffic gate (a front that
//! asks the rig, then runs the version here); `js` runs the distribution's CloudFront
//! Functions; `server` is the HTTP loop they share.

pub mod apigw;
pub mod invoke;
pub mod js;
pub mod lambda;
pub mod serve;
pub mod server;
