//! OEC daily rollups (日清): additive per-day sums maintained with each scorecard write, and
//! the rollup fields derived from them when read.

pub mod derive;
pub mod sums;
