//! aksid-emulator: under construction.
fn main() {}
