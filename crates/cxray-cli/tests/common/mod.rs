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

/// The standard output of a run that must succeed (the exit code and stderr otherwise).
#[allow(dead_code)] // not every test file uses it
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}
