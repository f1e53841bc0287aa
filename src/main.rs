//! `mxmap`: parse the command line, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

// A scan allocates and frees millions of small buffers (packets, names, answers) from
// every worker thread; mimalloc's thread-local free lists keep that off the critical
// path where glibc's malloc showed up at the top of the profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before anything else: clap exits with 2 on a malformed command line by itself.
    let cli = mxmap::cli::Cli::parse();
    mxmap::init_logging();
    mxmap::interrupt::install();
    match mxmap::pipeline::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = mxmap::cli::exit_code(&err);
            if code == mxmap::cli::EXIT_FAILURE || code == mxmap::cli::EXIT_USAGE {
                eprintln!("error: {err:#}");
            } else {
                eprintln!("interrupted: {err:#}");
            }
            ExitCode::from(code)
        }
    }
}
