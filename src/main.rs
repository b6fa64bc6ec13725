//! The `lookout` command line. One exit point: errors print their cause chain on one line each,
//! prefixed `lookout: error:`.
//!
//! Exit codes: 0 success, 1 the run failed, 2 bad input (config, arguments, files).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    lookout::uplink::tls::install_crypto_provider();
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose);
    match cli::dispatch(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = cli::exit_code(&e);
            for line in format!("{e:#}").lines() {
                eprintln!("lookout: error: {line}");
            }
            ExitCode::from(code)
        }
    }
}
