//! The `priorityguard` command line: parses arguments, calls the libraries, picks a reporter.
//! No Kubernetes logic lives here.

mod args;
mod audit;
mod catalog;
mod classes;
mod fix;
mod html;
mod krm;
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
    if let Some(option) = cli.command.option_without_cluster() {
        cmd.error(
            clap::error::ErrorKind::MissingRequiredArgument,
            format!("{option} works only with --cluster (it is about the live cluster)"),
        )
        .exit();
    }
    let result = match cli.command {
        Command::Audit(a) => audit::run(a),
        Command::Catalog(c) => catalog::run(c),
        Command::Classes(c) => classes::run(c),
        Command::Fix(f) => fix::run(f),
        Command::Krm(k) => krm::run(k),
        Command::Policy(p) => policy::run(p),
        Command::Simulate(s) => simulate::run(s),
        Command::Serve(s) => serve::run(s, bin_name),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut cmd, bin_name, &mut std::io::stdout());
            Ok(EXIT_CLEAN)
        }
        Command::Man { dir: None } => clap_mangen::Man::new(cmd.clone())
            .render(&mut std::io::stdout())
            .map(|()| EXIT_CLEAN)
            .map_err(anyhow::Error::from),
        Command::Man { dir: Some(dir) } => write_man_pages(bin_name, &dir),
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

/// One page per (sub)command, named as the main page's SEE ALSO-style references name them.
fn write_man_pages(bin_name: &str, dir: &std::path::Path) -> anyhow::Result<u8> {
    use anyhow::Context;
    let mut cmd = Cli::command().bin_name(bin_name).display_name(bin_name);
    cmd.build();
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        // clap's built-in `help` subcommand gets no page of its own.
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let page = sub
                .clone()
                .display_name(format!("{bin_name}-{}", sub.get_name()));
            clap_mangen::Man::new(page).generate_to(dir)?;
        }
        clap_mangen::Man::new(cmd.clone())
            .generate_to(dir)
            .map(drop)
    };
    write().with_context(|| format!("cannot write man pages into {}", dir.display()))?;
    eprintln!(
        "wrote man pages into {}",
        pg_model::visible(&dir.display().to_string())
    );
    Ok(EXIT_CLEAN)
}

/// `context: cause: cause` on one line, as the user reads it (each part names files or
/// objects from the inputs, so each is made [`pg_model::visible`]).
fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| pg_model::visible(&c.to_string()).into_owned())
        .collect::<Vec<_>>()
        .join(": ")
}

#[doc(hidden)]
pub fn parse_for_tests(args: &[&str]) -> Result<(), clap::Error> {
    Cli::try_parse_from(args).map(|_| ())
}
