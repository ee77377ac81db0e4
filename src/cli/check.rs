//! `homebus check`: validate a config file.

use std::path::Path;
use std::process::ExitCode;

/// Prints every error in the file and returns 1, or says it is fine and returns 0.
pub fn check(path: &Path) -> ExitCode {
    match crate::config::load_file(path) {
        Ok(config) => {
            println!(
                "{}: ok ({} sources, {} units)",
                path.display(),
                config.sources.len(),
                config.units.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}
