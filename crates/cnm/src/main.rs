//! `cnm`: the daemon (`cnm daemon`), the docker-like CLI, and the hidden per-container shim.

mod cli;
mod daemon;
mod shim;
mod spawner;

use clap::Parser;

fn main() {
    // The shim must fork before any thread exists, so it is dispatched before anything else runs.
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "shim" {
        shim::main(&args[2]);
    }
    if args.len() >= 2 && args[1] == "spawner" {
        spawner::main(&args[2..]);
    }
    let cli = cli::Cli::parse();
    let code = cli::run(cli);
    std::process::exit(code);
}
