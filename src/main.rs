//! The `lookout` command line. One exit point: errors print their cause chain on one line each,
//! prefixed `lookout: error:`.
//!
//! Exit codes: 0 success, 1 the run failed, 2 bad input (config, arguments, files).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    limit_malloc_arenas();
    lookout::tls::install_crypto_provider();
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

/// glibc gives threads their own malloc arenas, up to eight per core, and each keeps the frames
/// its threads freed: with 16 cameras (a hundred threads: GStreamer's, the workers') that is
/// hundreds of MB of freed memory held. Four arenas serve the box as fast (the hot paths reuse
/// their buffers). `MALLOC_ARENA_MAX` in the environment still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        const M_ARENA_MAX: std::ffi::c_int = -8;
        // SAFETY: mallopt only sets an allocator tunable; called first thing in main, before
        // any other thread exists.
        unsafe {
            mallopt(M_ARENA_MAX, 4);
        }
    }
}
