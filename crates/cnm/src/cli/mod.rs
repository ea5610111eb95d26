//! The docker-like CLI. Every command is a client of the daemon's API; nothing here touches the kernel.

mod client;
mod containers;
mod format;
mod networks;

use clap::{Parser, Subcommand};

pub use client::Client;

#[derive(Debug, Parser)]
#[command(
    name = "cnm",
    version,
    about = "Docker's container networking, rebuilt: daemon and CLI"
)]
pub struct Cli {
    /// Daemon socket (unix://PATH).
    #[arg(
        short = 'H',
        long = "host",
        env = "CNM_HOST",
        global = true,
        default_value = "unix:///run/cnm/cnm.sock"
    )]
    pub host: String,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the daemon (API server, controller, supervisor).
    Daemon(crate::daemon::DaemonArgs),
    /// Manage networks.
    #[command(subcommand)]
    Network(networks::NetworkCmd),
    /// Run a command in a new container (its own network namespace).
    Run(Box<containers::RunArgs>),
    /// Start a created or stopped container.
    Start { containers: Vec<String> },
    /// Run a command in a running container.
    Exec(containers::ExecArgs),
    /// List containers.
    Ps(containers::PsArgs),
    /// Stop containers (SIGTERM, then SIGKILL after the timeout).
    Stop {
        #[arg(short = 't', long = "time", default_value_t = 10)]
        time: u64,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Send a signal to containers.
    Kill {
        #[arg(short = 's', long = "signal", default_value = "KILL")]
        signal: String,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove containers.
    Rm {
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Show low-level information on containers.
    Inspect {
        #[arg(short = 'f', long = "format")]
        format: Option<String>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Show a container's output.
    Logs {
        #[arg(short = 'f', long)]
        follow: bool,
        container: String,
    },
    /// Show a container's published ports.
    Port { container: String },
    /// Rename a container.
    Rename { container: String, new_name: String },
}

pub fn run(cli: Cli) -> i32 {
    if let Cmd::Daemon(args) = cli.cmd {
        return match crate::daemon::run(args) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("cnm daemon: {e:#}");
                1
            }
        };
    }
    let client = match Client::new(&cli.host) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    match cli.cmd {
        Cmd::Daemon(_) => 0,
        Cmd::Network(n) => networks::run(&client, n),
        Cmd::Run(a) => containers::run(&client, *a),
        Cmd::Start { containers } => containers::start(&client, &containers),
        Cmd::Exec(a) => containers::exec(&client, a),
        Cmd::Ps(a) => containers::ps(&client, a),
        Cmd::Stop { time, containers } => containers::each(&client, &containers, |c, id| {
            c.post(
                &format!("/containers/{}/stop?t={time}", client::enc(id)),
                None,
            )
            .map(|_| ())
        }),
        Cmd::Kill { signal, containers } => containers::each(&client, &containers, |c, id| {
            c.post(
                &format!(
                    "/containers/{}/kill?signal={}",
                    client::enc(id),
                    client::enc(&signal)
                ),
                None,
            )
            .map(|_| ())
        }),
        Cmd::Rm { force, containers } => containers::each(&client, &containers, |c, id| {
            c.delete(&format!("/containers/{}?force={force}", client::enc(id)))
                .map(|_| ())
        }),
        Cmd::Inspect { format, containers } => {
            containers::inspect(&client, &containers, format.as_deref())
        }
        Cmd::Logs { follow, container } => containers::logs(&client, &container, follow),
        Cmd::Port { container } => containers::port(&client, &container),
        Cmd::Rename {
            container,
            new_name,
        } => {
            let path = format!(
                "/containers/{}/rename?name={}",
                client::enc(&container),
                client::enc(&new_name)
            );
            match client.post(&path, None) {
                Ok(_) => 0,
                Err(e) => {
                    eprintln!("{e}");
                    1
                }
            }
        }
    }
}
