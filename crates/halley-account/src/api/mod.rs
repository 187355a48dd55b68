//! One module per area of the portal API: parse parameters, apply the rule,
//! shape the answer.

pub mod activation;
pub mod downloads;
pub mod hosted;
pub mod licenses;
pub mod reports;
pub mod tokens;
