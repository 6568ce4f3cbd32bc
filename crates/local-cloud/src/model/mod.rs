//! The emulation model: what the local cloud's servers answer, decided on plain data. Nothing
//! here performs network I/O.

pub mod apigw;
pub mod distribution;
pub mod edge;
pub mod evaluate;
pub mod lambda;
pub mod origins;
pub mod private;
pub mod vtl;
