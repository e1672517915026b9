//! moat-jail (skeleton).
fn main() {}
