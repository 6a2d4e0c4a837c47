//! A spinner on standard error for work that takes more than a moment; hidden when standard
//! error is not a terminal (indicatif draws nothing then).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Starts a spinner with a message.
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
    );
    pb.set_message(message.into());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Prints how long a phase took when `CXRAY_TIMING` is set (for benchmarking and profiling).
pub fn timing(phase: &str, since: std::time::Instant) {
    if std::env::var_os("CXRAY_TIMING").is_some() {
        eprintln!("timing: {phase} {:.3} s", since.elapsed().as_secs_f64());
    }
}
