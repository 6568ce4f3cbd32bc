//! The local edge: CloudFront's serving on 127.0.0.1, for `shipit preview` (a build directory
//! with the template's distribution, or a stack in the local cloud) and for the tests. What
//! CloudFront decides per request is `core::edge`; where a distribution's configuration comes
//! from is `core::distribution`; this module serves HTTP and reads the origin.

pub mod serve;
