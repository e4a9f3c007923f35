//! The `priorityguard` command line: parses arguments, calls the libraries, picks a reporter.
//! No Kubernetes logic lives here.

mod args;
mod audit;
mod catalog;
mod classes;
mod fix;
mod output;
mod policy;
mod serve;
mod simulate;

use args::{Cli, Command};
use clap::{CommandFactory, Parser};
use std::process::ExitCode;

/// Exit codes, as documented in `--help`.
pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Runs the program; `bin_name` is how the user invoked it (it appears in help and errors).
pub fn main_as(bin_name: &'static str) -> ExitCode {
    let mut cmd = Cli::command().bin_name(bin_name);
    let cli = match cmd.try_get_matches_from_mut(std::env::args_os()) {
        Ok(m) => match <Cli as clap::FromArgMatches>::from_arg_matches(&m) {
            Ok(cli) => cli,
            Err(e) => e.format(&mut cmd).exit(),
        },
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Audit(a) => audit::run(a),
        Command::Catalog(c) => catalog::run(c),
        Command::Classes(c) => classes::run(c),
        Command::Fix(f) => fix::run(f),
        Command::Policy(p) => policy::run(p),
        Command::Simulate(s) => simulate::run(s),
        Command::Serve(s) => serve::run(s, bin_name),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut cmd, bin_name, &mut std::io::stdout());
            Ok(EXIT_CLEAN)
        }
        Command::Man => clap_mangen::Man::new(cmd.clone())
            .render(&mut std::io::stdout())
            .map(|()| EXIT_CLEAN)
            .map_err(anyhow::Error::from),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if output::is_broken_pipe(&e) => ExitCode::from(EXIT_CLEAN),
        Err(e) => {
            eprintln!("{bin_name}: error: {}", one_line(&e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `context: cause: cause` on one line, as the user reads it.
fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

#[doc(hidden)]
pub fn parse_for_tests(args: &[&str]) -> Result<(), clap::Error> {
    Cli::try_parse_from(args).map(|_| ())
}
