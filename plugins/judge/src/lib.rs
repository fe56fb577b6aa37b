pub mod prepare;
pub mod stats;
