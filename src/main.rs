//! The `homebus` binary: the command line in front of the library.

fn main() -> std::process::ExitCode {
    homebus::cli::main()
}
