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
    // A panic is a bug: into the log with the thread it killed (camera threads are `cam-ID`),
    // then the default report (with a backtrace when RUST_BACKTRACE is set).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let text = info.to_string();
        tracing::error!(
            thread = thread.name().unwrap_or("?"),
            "PANIC: {}",
            lookout::redact::text(&text)
        );
        default_hook(info);
    }));
    // Failpoints named in FAILPOINTS (test builds only; nothing in a release build).
    let _failpoints = fail::FailScenario::setup();
    match cli::dispatch(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = cli::exit_code(&e);
            for line in lookout::redact::text(&format!("{e:#}")).lines() {
                eprintln!("lookout: error: {line}");
            }
            ExitCode::from(code)
        }
    }
}
