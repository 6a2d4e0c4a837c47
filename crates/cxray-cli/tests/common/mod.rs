//! Helpers shared by the end-to-end tests.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the built `cxray` binary in `dir`.
pub fn cxray(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cxray"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the cxray binary runs")
}
