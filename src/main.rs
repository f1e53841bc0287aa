//! `mxmap`: parse the command line, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

// A scan allocates and frees millions of small buffers (packets, names, answers) from
// every worker thread; mimalloc's thread-local free lists keep that off the critical
// path where glibc's malloc showed up at the top of the profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = mxmap::cli::Cli::parse();
    mxmap::init_logging();
    match mxmap::pipeline::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
