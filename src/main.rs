//! The `faultline` binary: the command line over the protocols that ship in the
//! box. All logic lives in the library (`faultline::cli`); a user's own binary
//! is this file with its protocols added to the registry.

fn main() {
    faultline::cli::main(faultline::builtin())
}
