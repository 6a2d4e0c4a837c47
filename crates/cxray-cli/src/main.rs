//! `cxray`: customer-experience metrics with honest intervals, from survey exports and
//! operational data. This binary is a thin adapter: it parses flags, calls the library crates
//! and renders their results.
//!
//! Exit codes: 0 ok, 1 runtime error, 2 bad input or usage, 3 an alert fired (`cxray alerts`).

mod alerts;
mod args;
mod churn;
mod customer;
mod demo;
mod drivers;
mod explain;
mod input;
mod linkage;
mod metrics;
mod nonresponse;
mod operational;
mod output;
mod progress;
mod report;
mod text;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// An error with the exit code it maps to.
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    /// Bad input or usage (exit code 2).
    pub fn input(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: 2,
            error: error.into(),
        }
    }

    /// A runtime failure (exit code 1).
    pub fn runtime(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: 1,
            error: error.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Alerts(a) => match alerts::run(a) {
            Ok(true) => return ExitCode::from(3),
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        },
        Command::Metrics(a) => metrics::run(a),
        Command::Report(a) => report::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Text(a) => text::run(a),
        Command::Retention(a) => churn::run_retention(a),
        Command::Customer(a) => customer::run(a),
        Command::Linkage(a) => linkage::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Drivers(a) => drivers::run(a),
        Command::Nonresponse(a) => nonresponse::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}
