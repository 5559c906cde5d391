//! Placeholder until the rate benchmark lands.
fn main() {}
