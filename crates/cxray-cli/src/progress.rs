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
