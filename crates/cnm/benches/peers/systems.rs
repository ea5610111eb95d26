//! The systems under test and how one container is attached to / detached from each of them.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cnm_linux::{Netlink, VethSpec};

use crate::common::World;

const NETAVARK: &str = "/usr/lib/podman/netavark";
const AARDVARK: &str = "/usr/lib/podman/aardvark-dns";
const CNI_PATH: &str = "/usr/lib/cni";

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    Cnm,
    Netavark,
    NetavarkDns,
    Cni,
    Floor,
    /// The kernel floor through netlink from this process: no process spawned per attach.
    FloorNl,
}

/// Published ports of one container: host ports `host..host+n` to container ports `ctr..ctr+n`, TCP.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub host: u16,
    pub ctr: u16,
    pub n: u32,
}

impl Kind {
    /// cnm first: ratios are against index 0.
    pub fn all() -> [Kind; 6] {
        [
            Kind::Cnm,
            Kind::Netavark,
            Kind::NetavarkDns,
            Kind::Cni,
            Kind::Floor,
            Kind::FloorNl,
        ]
    }

    /// The systems that publish ports (netavark with and without aardvark-dns programs the same rules).
    pub fn publishers() -> [Kind; 3] {
        [Kind::Cnm, Kind::Netavark, Kind::Cni]
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Cnm => "cnm (API create+start)",
            Kind::Netavark => "netavark 1.4 (no DNS)",
            Kind::NetavarkDns => "netavark 1.4 + aardvark-dns",
            Kind::Cni => "CNI bridge+host-local+portmap+firewall",
            Kind::Floor => "kernel floor (ip -batch)",
            Kind::FloorNl => "kernel floor (direct netlink)",
        }
    }

    /// The second octet of the system's /16 and its bridge name.
    fn net(self) -> (u8, &'static str) {
        match self {
            Kind::Cnm => (200, ""),
            Kind::Netavark => (201, "nvbr0"),
            Kind::NetavarkDns => (202, "nvbr1"),
            Kind::Cni => (203, "cnibr0"),
            Kind::Floor => (204, "flbr0"),
            Kind::FloorNl => (206, "nlbr0"),
        }
    }
}

/// One attached container.
pub struct Ep {
    pub kind: Kind,
    pub ip: String,
    /// cnm: the container id; peers: the netns name.
    id: String,
    pub idx: usize,
    /// cnm: the daemon's own sandbox time.
    pub server: Option<Duration>,
    /// CNI: the chain's final result (DEL gets it as prevResult).
    cni_result: Option<serde_json::Value>,
    /// cnm: the container's process (its network namespace is that process's).
    pid: u32,
    /// Direct-netlink floor: the namespace, held by this descriptor alone (no bind mount).
    ns_fd: Option<File>,
    pub ports: Option<Ports>,
}

impl Ep {
    /// A path to the endpoint's network namespace that commands run in the world can open.
    pub fn netns_path(&self) -> String {
        match self.kind {
            Kind::Cnm => format!("/proc/{}/ns/net", self.pid),
            Kind::FloorNl => format!(
                "/proc/{}/fd/{}",
                std::process::id(),
                self.ns_fd.as_ref().expect("ns fd").as_raw_fd()
            ),
            _ => format!("/run/netns/{}", self.id),
        }
    }

    /// The same, opened by this process (the world's `/run` is only visible through its holder).
    pub fn open_netns(&self, w: &World) -> File {
        let p = match self.kind {
            Kind::Cnm | Kind::FloorNl => self.netns_path(),
            _ => format!("/proc/{}/root/run/netns/{}", w.holder_pid(), self.id),
        };
        File::open(&p).unwrap_or_else(|e| panic!("open netns {p}: {e}"))
    }
}

/// The direct-netlink floor: a runtime for the netlink sockets and one socket in the world's namespace.
struct NlFloor {
    rt: tokio::runtime::Runtime,
    host: Netlink,
    bridge: u32,
}

pub struct Peers<'w> {
    pub w: &'w World,
    next: usize,
    nv_dir: PathBuf,
    nvd_dir: PathBuf,
    cni_dir: PathBuf,
    /// podman serialises its netavark calls (its network lock); concurrent first setups race on
    /// netavark 1.4's iptables chains ("Chain already exists").
    nv_lock: std::sync::Mutex<()>,
    nl: NlFloor,
    /// cnm's bridge of the `bench` network (named after the network id).
    cnm_br: String,
}

fn hex64(tag: &str, i: usize) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{tag}-{i}").as_bytes());
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn ip_of(octet: u8, idx: usize) -> String {
    let n = idx + 2;
    format!("10.{octet}.{}.{}", n / 256, n % 256)
}

impl<'w> Peers<'w> {
    pub fn new(w: &'w World) -> Self {
        for bin in [
            NETAVARK,
            AARDVARK,
            "/usr/lib/cni/bridge",
            "/usr/lib/cni/firewall",
        ] {
            assert!(
                std::path::Path::new(bin).exists(),
                "peer {bin} is missing: install netavark aardvark-dns containernetworking-plugins \
                 (scripts/bench-peers.sh does it)"
            );
        }
        // Private /run in the world: netns mounts, the xtables lock and the peers' runtime state.
        w.sh("mount -t tmpfs -o mode=755 cnm-bench-run /run && mkdir -p /run/netns")
            .ok();
        // The floor bridges are made once, untimed (as a network create would).
        for kind in [Kind::Floor, Kind::FloorNl] {
            let (octet, br) = kind.net();
            let mut c = w.command("ip");
            c.args(["-batch", "-"]);
            let script = format!(
                "link add {br} type bridge\naddr add 10.{octet}.0.1/16 dev {br}\nlink set {br} up\n"
            );
            let out = c
                .stdin(Stdio::piped())
                .spawn()
                .and_then(|mut ch| {
                    ch.stdin
                        .take()
                        .expect("stdin")
                        .write_all(script.as_bytes())?;
                    ch.wait()
                })
                .expect("ip -batch");
            assert!(out.success(), "floor bridge {br}");
        }
        let mut p = Peers {
            w,
            next: 0,
            nv_dir: w.path("netavark"),
            nvd_dir: w.path("netavark-dns"),
            cni_dir: w.path("cni"),
            nv_lock: std::sync::Mutex::new(()),
            nl: NlFloor::new(w),
            cnm_br: String::new(),
        };
        for d in [&p.nv_dir, &p.nvd_dir, &p.cni_dir] {
            std::fs::create_dir_all(d).expect("peer dir");
        }
        let (st, body) = w.http(
            "POST",
            "/networks/create",
            Some(r#"{"Name":"bench","IPAM":{"Config":[{"Subnet":"10.200.0.0/16"}]}}"#),
        );
        assert_eq!(st, 201, "{body}");
        p.cnm_br = w
            .sh("ip -o -4 addr show to 10.200.0.1/32 | awk '{print $2}'")
            .ok()
            .stdout
            .trim()
            .to_string();
        assert!(!p.cnm_br.is_empty(), "cnm's bench bridge not found");
        p
    }

    pub fn bridge(&self, kind: Kind) -> &str {
        if kind == Kind::Cnm {
            &self.cnm_br
        } else {
            kind.net().1
        }
    }

    pub fn versions(&self) -> String {
        let v = |c: &str| {
            String::from_utf8_lossy(
                &Command::new("sh")
                    .arg("-c")
                    .arg(c)
                    .output()
                    .map(|o| o.stdout)
                    .unwrap_or_default(),
            )
            .trim()
            .to_string()
        };
        format!(
            "netavark {}, aardvark-dns {}, containernetworking-plugins {}, iproute2 {}",
            v("dpkg-query -W -f '${Version}' netavark"),
            v("dpkg-query -W -f '${Version}' aardvark-dns"),
            v("dpkg-query -W -f '${Version}' containernetworking-plugins"),
            v("dpkg-query -W -f '${Version}' iproute2"),
        )
    }

    pub fn aardvark_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.nvd_dir.join("aardvark-dns/aardvark.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn run(&self, mut c: Command, stdin: &str) -> (bool, String, String) {
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn peer");
        let mut si = child.stdin.take().expect("stdin");
        let _ = si.write_all(stdin.as_bytes());
        drop(si);
        let o = child.wait_with_output().expect("wait peer");
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    fn ip_batch(&self, ns: Option<&str>, script: &str) {
        let mut c = self.w.command("ip");
        if let Some(ns) = ns {
            c.args(["-n", ns]);
        }
        c.args(["-batch", "-"]);
        let (ok, _, err) = self.run(c, script);
        assert!(ok, "ip -batch failed: {err}\n{script}");
    }

    fn alloc(&mut self) -> usize {
        self.next += 1;
        self.next
    }

    pub fn attach(&mut self, kind: Kind) -> (Duration, Ep) {
        self.attach_ports(kind, None)
    }

    /// An attach that publishes `ports` (cnm: `PortBindings`; netavark: `port_mappings`; CNI: the
    /// `portMappings` capability of the portmap plugin).
    pub fn attach_ports(&mut self, kind: Kind, ports: Option<Ports>) -> (Duration, Ep) {
        let idx = self.alloc();
        if kind != Kind::Cnm {
            self.make_netns(kind, idx);
        }
        self.attach_timed(kind, idx, ports)
    }

    /// `n` attaches started together on their own threads; the wall time for all of them.
    pub fn attach_parallel(&mut self, kind: Kind, n: usize) -> (Duration, Vec<Ep>) {
        let idxs: Vec<usize> = (0..n).map(|_| self.alloc()).collect();
        let this: &Peers = self;
        if kind != Kind::Cnm {
            for &i in &idxs {
                this.make_netns(kind, i);
            }
        }
        let t = Instant::now();
        let eps: Vec<Ep> = std::thread::scope(|s| {
            let hs: Vec<_> = idxs
                .iter()
                .map(|&i| s.spawn(move || this.attach_timed(kind, i, None).1))
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("attach thread"))
                .collect()
        });
        (t.elapsed(), eps)
    }

    fn ns_name(kind: Kind, idx: usize) -> String {
        format!("b{}-{idx}", kind.net().0)
    }

    fn make_netns(&self, kind: Kind, idx: usize) {
        if matches!(kind, Kind::Floor | Kind::FloorNl) {
            return; // the floors make their namespace in the timed part
        }
        self.ip_batch(None, &format!("netns add {}\n", Self::ns_name(kind, idx)));
    }

    /// The timed part of an attach (the peer's netns already exists).
    fn attach_timed(&self, kind: Kind, idx: usize, ports: Option<Ports>) -> (Duration, Ep) {
        let (octet, br) = kind.net();
        let ns = Self::ns_name(kind, idx);
        let mut ep = Ep {
            kind,
            ip: ip_of(octet, idx),
            id: ns.clone(),
            idx,
            server: None,
            cni_result: None,
            pid: 0,
            ns_fd: None,
            ports,
        };
        let t = Instant::now();
        match kind {
            Kind::Cnm => {
                let body = serde_json::json!({
                    "Cmd": ["sleep", "100000"],
                    "ExposedPorts": cnm_exposed(ports),
                    "HostConfig": {"NetworkMode": "bench", "PortBindings": cnm_bindings(ports)},
                })
                .to_string();
                let (st, resp) = self.w.http(
                    "POST",
                    &format!("/containers/create?name=c{idx}"),
                    Some(&body),
                );
                assert_eq!(st, 201, "{resp}");
                let v: serde_json::Value = serde_json::from_str(&resp).expect("json");
                let id = v["Id"].as_str().expect("id").to_string();
                let (st, head, resp) =
                    self.w
                        .http_full("POST", &format!("/containers/{id}/start"), None);
                assert_eq!(st, 204, "{resp}");
                let d = t.elapsed();
                ep.server = Some(crate::measure::server_timing(&head, "sandbox"));
                let (st, resp) = self.w.http("GET", &format!("/containers/{id}/json"), None);
                assert_eq!(st, 200, "{resp}");
                let v: serde_json::Value = serde_json::from_str(&resp).expect("json");
                ep.ip = v["NetworkSettings"]["Networks"]["bench"]["IPAddress"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| panic!("cnm container {id} has no address: {resp}"))
                    .to_string();
                ep.pid = v["State"]["Pid"].as_u64().expect("pid") as u32;
                ep.id = id;
                (d, ep)
            }
            Kind::Netavark | Kind::NetavarkDns => {
                let (ok, out, err) = self.netavark(kind, "setup", &ns, idx, &ep.ip, ports);
                let d = t.elapsed();
                assert!(ok, "netavark setup failed: {out} {err}");
                let v: serde_json::Value = serde_json::from_str(&out).expect("netavark json");
                let got = v[br]["interfaces"]["eth0"]["subnets"][0]["ipnet"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                assert_eq!(got, format!("{}/16", ep.ip), "netavark result {out}");
                (d, ep)
            }
            Kind::Cni => {
                let r = self.cni_add(&ns, idx, ports);
                let d = t.elapsed();
                let got = r["ips"][0]["address"].as_str().unwrap_or_default();
                ep.ip = got.split('/').next().unwrap_or_default().to_string();
                assert!(!ep.ip.is_empty(), "CNI result without address: {r}");
                ep.cni_result = Some(r);
                (d, ep)
            }
            Kind::Floor => {
                let host = format!("fl{idx}");
                self.ip_batch(
                    None,
                    &format!(
                        "netns add {ns}\nlink add {host} type veth peer name eth0 netns {ns}\n\
                         link set {host} master {br} up\n"
                    ),
                );
                self.ip_batch(
                    Some(&ns),
                    &format!(
                        "addr add {}/16 dev eth0\nlink set eth0 up\nlink set lo up\n\
                         route add default via 10.{octet}.0.1\n",
                        ep.ip
                    ),
                );
                (t.elapsed(), ep)
            }
            Kind::FloorNl => {
                ep.ns_fd = Some(self.nl.attach(idx, &ep.ip, octet));
                (t.elapsed(), ep)
            }
        }
    }

    pub fn detach(&mut self, ep: Ep) -> Duration {
        self.detach_ref(ep)
    }

    fn detach_ref(&self, ep: Ep) -> Duration {
        let t = Instant::now();
        match ep.kind {
            Kind::Cnm => {
                let (st, resp) =
                    self.w
                        .http("DELETE", &format!("/containers/{}?force=1", ep.id), None);
                assert_eq!(st, 204, "{resp}");
                t.elapsed()
            }
            Kind::Netavark | Kind::NetavarkDns => {
                let (ok, out, err) =
                    self.netavark(ep.kind, "teardown", &ep.id, ep.idx, &ep.ip, ep.ports);
                let d = t.elapsed();
                assert!(ok, "netavark teardown failed: {out} {err}");
                self.ip_batch(None, &format!("netns del {}\n", ep.id));
                d
            }
            Kind::Cni => {
                self.cni_del(
                    &ep.id,
                    ep.idx,
                    ep.cni_result.as_ref().expect("result"),
                    ep.ports,
                );
                let d = t.elapsed();
                self.ip_batch(None, &format!("netns del {}\n", ep.id));
                d
            }
            Kind::Floor => {
                self.ip_batch(None, &format!("netns del {}\n", ep.id));
                t.elapsed()
            }
            Kind::FloorNl => {
                // Closing the only reference frees the namespace and, with it, both veth ends (the
                // kernel does it asynchronously, as for `ip netns del`).
                drop(ep.ns_fd);
                t.elapsed()
            }
        }
    }

    /// Detach many at once from `threads` threads (cleanup between scenarios; not timed).
    pub fn detach_all(&mut self, eps: Vec<Ep>) {
        let threads = 4;
        let mut buckets: Vec<Vec<Ep>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, ep) in eps.into_iter().enumerate() {
            buckets[i % threads].push(ep);
        }
        let this: &Peers = self;
        std::thread::scope(|s| {
            for b in buckets {
                s.spawn(move || {
                    for ep in b {
                        this.detach_ref(ep);
                    }
                });
            }
        });
    }

    /// A TCP listener (busybox httpd serving `www`) on `port` inside the endpoint's namespace; the
    /// caller stops it by its PID.
    pub fn listen(&self, ep: &Ep, port: u16, www: &Path) -> Child {
        self.w
            .command("nsenter")
            .arg(format!("--net={}", ep.netns_path()))
            .args(["busybox", "httpd", "-f", "-p", &port.to_string(), "-h"])
            .arg(www)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn listener")
    }

    /// Drop the neighbour entries a check made: the host's on the system's bridge, and each
    /// endpoint's own (its entry for the gateway). The kernel's neighbour table is shared by all
    /// namespaces, so thousands of live entries from checks would be a load of the suite's own making.
    pub fn forget_neighbours(&self, kind: Kind, eps: &[&Ep]) {
        let br = self.bridge(kind);
        let mut script = format!("ip neigh flush dev {br} 2>/dev/null; ");
        for ep in eps {
            script.push_str(&format!(
                "nsenter --net={} ip neigh flush all 2>/dev/null; ",
                ep.netns_path()
            ));
        }
        self.w.sh(&script);
    }

    fn netavark(
        &self,
        kind: Kind,
        verb: &str,
        ns: &str,
        idx: usize,
        ip: &str,
        ports: Option<Ports>,
    ) -> (bool, String, String) {
        let (octet, br) = kind.net();
        let dns = kind == Kind::NetavarkDns;
        let dir = if dns { &self.nvd_dir } else { &self.nv_dir };
        // What podman 4.3 sends (shared/reference/linux-and-tooling.md §16): podman does the IPAM.
        let cid = hex64("ctr", idx);
        let mut json = serde_json::json!({
            "container_id": cid,
            "container_name": format!("bench{idx}"),
            "networks": { br: {
                "static_ips": [ip],
                // podman: the --network-alias values (none here) and the short id; the container
                // name is sent apart and aardvark-dns serves it too.
                "aliases": [cid[..12].to_string()],
                "interface_name": "eth0"
            }},
            "network_info": { br: {
                "name": br,
                "id": hex64("net", octet as usize),
                "driver": "bridge",
                "network_interface": br,
                "created": "2026-12-03T00:00:00.000000000Z",
                "subnets": [{"subnet": format!("10.{octet}.0.0/16"), "gateway": format!("10.{octet}.0.1")}],
                "ipv6_enabled": false,
                "internal": false,
                "dns_enabled": dns,
                "ipam_options": {"driver": "host-local"}
            }}
        });
        if let Some(p) = ports {
            // `podman run -p H-H2:C-C2` sends one mapping with a range.
            json["port_mappings"] = serde_json::json!([{
                "host_ip": "", "container_port": p.ctr, "host_port": p.host,
                "range": p.n, "protocol": "tcp"
            }]);
        }
        let mut c = self.w.command(NETAVARK);
        c.env("RUST_LOG", "netavark=warn")
            .arg("--config")
            .arg(dir)
            .arg("--rootless=false")
            .arg(format!("--aardvark-binary={AARDVARK}"))
            .arg(verb)
            .arg(format!("/run/netns/{ns}"));
        let _g = self.nv_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.run(c, &json.to_string())
    }

    /// The conflist podman 4.3 writes for a bridge network, as separate plugin configs.
    fn cni_plugins(&self, ports: Option<Ports>) -> Vec<serde_json::Value> {
        let (octet, br) = Kind::Cni.net();
        let name = "cnibench";
        vec![
            serde_json::json!({
                "cniVersion": "1.0.0", "name": name, "type": "bridge", "bridge": br,
                "isGateway": true, "ipMasq": true, "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "ranges": [[{"subnet": format!("10.{octet}.0.0/16"), "gateway": format!("10.{octet}.0.1")}]],
                    "dataDir": self.cni_dir.join("ipam"),
                }
            }),
            serde_json::json!({
                "cniVersion": "1.0.0", "name": name, "type": "portmap",
                "capabilities": {"portMappings": true},
                "runtimeConfig": {"portMappings": cni_mappings(ports)}
            }),
            serde_json::json!({
                "cniVersion": "1.0.0", "name": name, "type": "firewall", "backend": "iptables"
            }),
        ]
    }

    fn cni_call(
        &self,
        cmd: &str,
        ns: &str,
        idx: usize,
        mut conf: serde_json::Value,
        prev: Option<&serde_json::Value>,
    ) -> String {
        if let Some(p) = prev {
            conf["prevResult"] = p.clone();
        }
        let ty = conf["type"].as_str().expect("type").to_string();
        let mut c = self.w.command(&format!("{CNI_PATH}/{ty}"));
        c.env_clear()
            .env("CNI_COMMAND", cmd)
            .env("CNI_CONTAINERID", hex64("cni", idx))
            .env("CNI_NETNS", format!("/run/netns/{ns}"))
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", CNI_PATH)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        let (ok, out, err) = self.run(c, &conf.to_string());
        assert!(ok, "CNI {ty} {cmd} failed: {out} {err}");
        out
    }

    fn cni_add(&self, ns: &str, idx: usize, ports: Option<Ports>) -> serde_json::Value {
        let mut prev: Option<serde_json::Value> = None;
        for conf in self.cni_plugins(ports) {
            let out = self.cni_call("ADD", ns, idx, conf, prev.as_ref());
            prev = Some(serde_json::from_str(&out).expect("CNI result json"));
        }
        prev.expect("result")
    }

    fn cni_del(&self, ns: &str, idx: usize, result: &serde_json::Value, ports: Option<Ports>) {
        for conf in self.cni_plugins(ports).into_iter().rev() {
            self.cni_call("DEL", ns, idx, conf, Some(result));
        }
    }

    /// 10 bridge networks created then removed through cnm's API.
    pub fn cnm_network_cycle(&mut self, round: usize, n: usize) -> (Vec<Duration>, Vec<Duration>) {
        let mut c = Vec::new();
        let mut r = Vec::new();
        for i in 0..n {
            let t = Instant::now();
            let (st, body) = self.w.http(
                "POST",
                "/networks/create",
                Some(&format!(
                    r#"{{"Name":"nc{round}-{i}","CheckDuplicate":true}}"#
                )),
            );
            c.push(t.elapsed());
            assert_eq!(st, 201, "{body}");
        }
        for i in 0..n {
            let t = Instant::now();
            let (st, body) = self
                .w
                .http("DELETE", &format!("/networks/nc{round}-{i}"), None);
            r.push(t.elapsed());
            assert_eq!(st, 204, "{body}");
        }
        (c, r)
    }

    /// The same with one `ip -batch` per bridge (create: add, address, up; rm: del).
    pub fn floor_network_cycle(
        &mut self,
        round: usize,
        n: usize,
    ) -> (Vec<Duration>, Vec<Duration>) {
        let mut c = Vec::new();
        let mut r = Vec::new();
        for i in 0..n {
            let t = Instant::now();
            self.ip_batch(
                None,
                &format!(
                    "link add fn{round}x{i} type bridge\naddr add 10.205.{}.1/24 dev fn{round}x{i}\nlink set fn{round}x{i} up\n",
                    round * n + i
                ),
            );
            c.push(t.elapsed());
        }
        for i in 0..n {
            let t = Instant::now();
            self.ip_batch(None, &format!("link del fn{round}x{i}\n"));
            r.push(t.elapsed());
        }
        (c, r)
    }
}

impl Drop for Peers<'_> {
    fn drop(&mut self) {
        // aardvark-dns was started (through netavark) by this suite: stop it by its PID.
        if let Some(pid) = self.aardvark_pid() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::SIGTERM,
            );
        }
    }
}

/// `ExposedPorts` as the docker CLI sends it for `-p H-H2:C-C2`: every container port.
fn cnm_exposed(ports: Option<Ports>) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    if let Some(p) = ports {
        for i in 0..p.n {
            m.insert(format!("{}/tcp", p.ctr as u32 + i), serde_json::json!({}));
        }
    }
    serde_json::Value::Object(m)
}

/// `PortBindings` as the docker CLI sends it for `-p H-H2:C-C2`: the range expanded, one binding each.
fn cnm_bindings(ports: Option<Ports>) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    if let Some(p) = ports {
        for i in 0..p.n {
            m.insert(
                format!("{}/tcp", p.ctr as u32 + i),
                serde_json::json!([{"HostIp": "", "HostPort": (p.host as u32 + i).to_string()}]),
            );
        }
    }
    serde_json::Value::Object(m)
}

/// The portmap plugin's `runtimeConfig.portMappings` as libcni passes it: one entry per port.
fn cni_mappings(ports: Option<Ports>) -> serde_json::Value {
    let v: Vec<serde_json::Value> = ports
        .map(|p| {
            (0..p.n)
                .map(|i| {
                    serde_json::json!({
                        "hostPort": p.host as u32 + i,
                        "containerPort": p.ctr as u32 + i,
                        "protocol": "tcp"
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    serde_json::Value::Array(v)
}

impl NlFloor {
    fn new(w: &World) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let holder = w.holder_pid();
        let h = rt.handle().clone();
        // The socket is bound to the namespace of the thread that opens it: a thread in the world's.
        let host = std::thread::spawn(move || {
            let ns = File::open(format!("/proc/{holder}/ns/net")).expect("world netns");
            nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("setns world");
            let _g = h.enter();
            Netlink::current().expect("netlink in the world")
        })
        .join()
        .expect("netlink thread");
        let (_, br) = Kind::FloorNl.net();
        let bridge = rt
            .block_on(host.link_by_name(br))
            .expect("bridge lookup")
            .expect("floor bridge")
            .index;
        NlFloor { rt, host, bridge }
    }

    /// netns + veth (peer made in the netns, host end on the bridge and up, one message) + the
    /// container side: address, eth0 up, lo up, default route. Returns the namespace's only handle.
    fn attach(&self, idx: usize, ip: &str, octet: u8) -> File {
        let h = self.rt.handle().clone();
        let (ns, inner) = std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare net");
            let ns = File::open("/proc/thread-self/ns/net").expect("own netns");
            let _g = h.enter();
            (ns, Netlink::current().expect("netlink in the new netns"))
        })
        .join()
        .expect("netns thread");
        let peer = PathBuf::from(format!("/proc/self/fd/{}", ns.as_raw_fd()));
        let host_name = format!("nl{idx}");
        let addr: ipnet::IpNet = format!("{ip}/16").parse().expect("address");
        let gw: std::net::IpAddr = format!("10.{octet}.0.1").parse().expect("gateway");
        self.rt
            .block_on(async {
                self.host
                    .create_veth(&VethSpec {
                        host_name: &host_name,
                        peer_name: "eth0",
                        peer_netns: &peer,
                        peer_mac: None,
                        mtu: None,
                        master: Some(self.bridge),
                        host_ipv6_off: false,
                        hairpin: false,
                        host_alias: None,
                    })
                    .await?;
                let eth0 = inner
                    .link_by_name("eth0")
                    .await?
                    .ok_or_else(|| cnm_linux::LinuxError::NotFound("eth0".into()))?
                    .index;
                inner.add_address(eth0, addr).await?;
                inner.set_up(eth0).await?;
                inner.set_up(1).await?; // lo is always index 1 in a new namespace
                inner.replace_default_route(gw, eth0).await
            })
            .unwrap_or_else(|e| panic!("netlink floor attach {idx}: {e}"));
        ns
    }
}
