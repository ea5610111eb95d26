//! `cnm daemon`: wires the store, drivers and controller, serves the Engine API on a unix socket, and
//! supervises container processes.

mod convert;
mod events;
mod http;
mod memory;
mod procs;
mod routes;
mod system;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use cnm_core::driver::{NetworkDriver, SandboxOs};
use cnm_core::{Controller, ControllerConfig};
use cnm_drivers::{BridgeDriver, HostDriver, LinuxSandboxOs, NullDriver};
use cnm_ipam::PoolSpec;
use ipnet::IpNet;

/// `cnm daemon` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct DaemonArgs {
    /// Socket to serve the API on.
    #[arg(short = 'H', long = "host", default_value = "unix:///run/cnm/cnm.sock")]
    pub host: String,
    /// Persistent state (the store, container files).
    #[arg(long, default_value = "/var/lib/cnm")]
    pub data_root: PathBuf,
    /// Runtime state (namespace files, shim state).
    #[arg(long, default_value = "/run/cnm")]
    pub exec_root: PathBuf,
    /// Address and prefix of the default bridge (docker0), e.g. 172.17.0.1/16.
    #[arg(long)]
    pub bip: Option<IpNet>,
    /// Default address pool `base=CIDR,size=N` (repeatable; replaces Docker's defaults).
    #[arg(long = "default-address-pool")]
    pub default_address_pool: Vec<PoolSpec>,
    /// DNS server for containers (repeatable).
    #[arg(long)]
    pub dns: Vec<IpAddr>,
    /// MTU of container interfaces.
    #[arg(long)]
    pub mtu: Option<u32>,
    /// Bridge endpoints kept ready per recently used network (a namespace with its veth already on the
    /// bridge, for the next container); 0 turns them off.
    #[arg(long, default_value_t = cnm_drivers::ready::READY_DEFAULT)]
    pub ready_endpoints: usize,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Host resolv.conf to derive containers' resolvers from.
    #[arg(long, default_value = "/etc/resolv.conf", hide = true)]
    pub resolv_conf: PathBuf,
    /// systemd-resolved's real upstream file (used when the host file names only 127.0.0.53).
    #[arg(long, default_value = "/run/systemd/resolve/resolv.conf", hide = true)]
    pub systemd_resolv_conf: PathBuf,
}

pub struct Daemon {
    pub ctl: Controller,
    pub procs: procs::Supervisor,
    pub args: DaemonArgs,
    pub events: events::EventLog,
}

fn socket_path(host: &str) -> anyhow::Result<PathBuf> {
    match host.strip_prefix("unix://") {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => bail!("unsupported --host {host:?}: only unix://PATH is supported"),
    }
}

fn host_id(data_root: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let path = data_root.join("host-id");
    if let Ok(id) = std::fs::read(&path) {
        return Ok(id);
    }
    let id = cnm_core::ids::new_id().into_bytes();
    std::fs::write(&path, &id).with_context(|| format!("write {}", path.display()))?;
    Ok(id)
}

fn raise_nofile() {
    if let Ok((_, hard)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
    {
        let _ =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
    }
}

pub fn run(args: DaemonArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "{},hyper=warn,netlink_proto=warn",
        args.log_level
    ))
    .context("bad --log-level")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if !nix::unistd::Uid::effective().is_root() {
        bail!("cnm daemon must run as root");
    }
    raise_nofile();
    // Every thread that allocates gets a glibc arena of its own (~130 kB touched each), and a burst of
    // starts can briefly grow tokio's blocking pool to dozens of threads: two arenas and a small pool
    // keep the daemon's memory flat with the number of containers.
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()?;
    rt.block_on(serve(args))
}

async fn serve(args: DaemonArgs) -> anyhow::Result<()> {
    let sock = socket_path(&args.host)?;
    for d in [&args.data_root, &args.exec_root] {
        std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
    }
    std::fs::create_dir_all(args.data_root.join("containers"))?;
    std::fs::create_dir_all(args.exec_root.join("netns"))?;
    let store = cnm_store::Store::open(&args.data_root)?;
    let hid = host_id(&args.data_root)?;
    let v4 = if args.default_address_pool.is_empty() {
        cnm_ipam::docker_default_v4_pools()
    } else {
        args.default_address_pool
            .iter()
            .filter(|p| p.base.addr().is_ipv4())
            .cloned()
            .collect()
    };
    let mut v6: Vec<PoolSpec> = args
        .default_address_pool
        .iter()
        .filter(|p| p.base.addr().is_ipv6())
        .cloned()
        .collect();
    if v6.is_empty() {
        v6 = cnm_ipam::docker_default_v6_pools(&hid);
    }
    let cfg = ControllerConfig {
        data_root: args.data_root.clone(),
        exec_root: args.exec_root.clone(),
        bip: args.bip,
        default_v4_pools: v4,
        default_v6_pools: v6,
        daemon_dns: args.dns.clone(),
        mtu: args.mtu,
        host_resolv_conf: args.resolv_conf.clone(),
        systemd_resolv_conf: args.systemd_resolv_conf.clone(),
        host_hosts: PathBuf::from("/etc/hosts"),
    };
    let host_nl = cnm_linux::Netlink::current()?;
    let ready = cnm_drivers::ready::ReadyEndpoints::new(
        args.exec_root.join("netns-ready"),
        host_nl.clone(),
        args.ready_endpoints,
        cnm_drivers::ready::READY_TOTAL,
    )?;
    let drivers: Vec<Arc<dyn NetworkDriver>> = vec![
        Arc::new(BridgeDriver::new(host_nl, args.mtu).with_ready(ready.clone())),
        Arc::new(HostDriver),
        Arc::new(NullDriver),
    ];
    let os = Arc::new(
        LinuxSandboxOs::new(
            cfg.netns_dir(),
            args.exec_root.join("netns-spare"),
            cnm_drivers::spares::SPARES,
        )?
        .with_private_dir(ready.dir().to_path_buf()),
    );
    let spawner = match crate::spawner::Spawner::start(&os.private_dirs()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "no shim spawner; shims will be exec'd");
            None
        }
    };
    let supervisor = procs::Supervisor::new(cfg.clone(), spawner);
    let dns = Arc::new(
        cnm_dns::Resolvers::new(cnm_dns::ports::dir(&args.exec_root)).context("embedded DNS")?,
    );
    let firewall = cnm_firewall::NftFirewall::new();
    let (ctl, report) = Controller::open_full(
        cfg,
        store,
        drivers,
        os.clone(),
        dns,
        firewall.clone(),
        |c| supervisor.is_alive(c),
    )
    .await
    .context("restore state")?;
    firewall.spawn_healer();
    memory::spawn_trimmer();
    os.replenish();
    tracing::info!(
        networks = report.networks,
        running = report.running,
        exited = report.exited_while_down.len(),
        removed = ?report.removed,
        "state restored"
    );
    let daemon = Arc::new(Daemon {
        ctl,
        procs: supervisor,
        args: args.clone(),
        events: events::EventLog::default(),
    });
    events::EventLog::follow(&daemon);
    daemon.procs.watch_running(daemon.clone()).await;

    if let Some(parent) = sock.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let _ = std::fs::remove_file(&sock);
    let listener = tokio::net::UnixListener::bind(&sock)
        .with_context(|| format!("bind {}", sock.display()))?;
    tracing::info!(socket = %sock.display(), "API listening");
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut int =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
        tokio::select! {
            _ = async { if let Some(t) = term.as_mut() { t.recv().await; } else { std::future::pending::<()>().await } } => {}
            _ = async { if let Some(i) = int.as_mut() { i.recv().await; } else { std::future::pending::<()>().await } } => {}
        }
        tracing::info!("shutting down; containers keep running");
    };
    http::serve(listener, daemon, shutdown).await;
    os.drop_spares();
    ready.drain().await;
    let _ = std::fs::remove_file(&sock);
    Ok(())
}
