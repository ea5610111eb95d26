//! The three files a container sees over /etc: hosts, resolv.conf and hostname, with Docker's content.

use std::net::IpAddr;

const HOSTS_DEFAULT: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// `/etc/hosts` of a sandbox: the default block, `--add-host` records, then one `IP<TAB>hostname` line per
/// address of the container, in connect order.
pub fn render_hosts(
    extra: &[(String, IpAddr)],
    own: &[IpAddr],
    hostname: &str,
    domainname: &str,
) -> String {
    let mut s = String::from(HOSTS_DEFAULT);
    for (name, ip) in extra {
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    let names = if domainname.is_empty() {
        hostname.to_string()
    } else {
        format!("{hostname}.{domainname} {hostname}")
    };
    for ip in own {
        s.push_str(&format!("{ip}\t{names}\n"));
    }
    s
}

/// Host-mode `/etc/hosts`: the host's file, plus `--add-host` records.
pub fn render_host_mode_hosts(host_file: &str, extra: &[(String, IpAddr)]) -> String {
    let mut s = host_file.to_string();
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    for (name, ip) in extra {
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    s
}

/// What a host resolv.conf holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolvConf {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl ResolvConf {
    pub fn parse(text: &str) -> Self {
        let mut rc = ResolvConf::default();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(ip) = words
                        .next()
                        .and_then(|w| w.split('%').next())
                        .and_then(|w| w.parse().ok())
                    {
                        rc.nameservers.push(ip);
                    }
                }
                Some("search") | Some("domain") => rc.search = words.map(str::to_string).collect(),
                Some("options") => rc.options.extend(words.map(str::to_string)),
                _ => {}
            }
        }
        rc
    }
}

/// Container overrides (`--dns`, `--dns-search`, `--dns-option`) and daemon defaults.
#[derive(Debug, Clone, Default)]
pub struct DnsSettings<'a> {
    pub container_dns: &'a [IpAddr],
    pub container_search: &'a [String],
    pub container_options: &'a [String],
    pub daemon_dns: &'a [IpAddr],
}

fn push_search_and_options(out: &mut String, search: &[String], options: &[String]) {
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
}

/// resolv.conf of a container on user-defined networks: the embedded resolver only; the servers it would
/// have used become the resolver's upstreams.
pub fn render_resolv_internal(host: &ResolvConf, dns: &DnsSettings<'_>) -> String {
    let search = if dns.container_search.is_empty() {
        &host.search
    } else {
        dns.container_search
    };
    let mut options: Vec<String> = if dns.container_options.is_empty() {
        host.options.clone()
    } else {
        dns.container_options.to_vec()
    };
    if !options.iter().any(|o| o.starts_with("ndots:")) {
        options.push("ndots:0".into());
    }
    let mut s = String::from("nameserver 127.0.0.11\n");
    push_search_and_options(&mut s, search, &options);
    s
}

/// resolv.conf for the default bridge, none and host modes: the host's file with the nameservers
/// replaced by `--dns` (container, then daemon); loopback servers are dropped unless `keep_loopback`
/// (host mode, where they stay reachable).
pub fn render_resolv_legacy(
    host: &ResolvConf,
    dns: &DnsSettings<'_>,
    keep_loopback: bool,
) -> String {
    let servers: Vec<IpAddr> = if !dns.container_dns.is_empty() {
        dns.container_dns.to_vec()
    } else if !dns.daemon_dns.is_empty() {
        dns.daemon_dns.to_vec()
    } else {
        host.nameservers
            .iter()
            .copied()
            .filter(|ip| keep_loopback || !ip.is_loopback())
            .collect()
    };
    let search = if dns.container_search.is_empty() {
        &host.search
    } else {
        dns.container_search
    };
    let options = if dns.container_options.is_empty() {
        &host.options
    } else {
        dns.container_options
    };
    let mut s = String::new();
    for ip in &servers {
        s.push_str(&format!("nameserver {ip}\n"));
    }
    push_search_and_options(&mut s, search, options);
    s
}

/// Upstream servers of the embedded resolver: container `--dns`, else daemon `--dns`, else the host's.
pub fn resolver_upstreams(host: &ResolvConf, dns: &DnsSettings<'_>) -> Vec<IpAddr> {
    if !dns.container_dns.is_empty() {
        dns.container_dns.to_vec()
    } else if !dns.daemon_dns.is_empty() {
        dns.daemon_dns.to_vec()
    } else {
        host.nameservers.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_matches_docker() {
        let own: Vec<IpAddr> = vec!["172.17.0.2".parse().expect("ip")];
        let h = render_hosts(&[], &own, "2de5fcf73224", "");
        assert_eq!(
            h,
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n172.17.0.2\t2de5fcf73224\n"
        );
        let none = render_hosts(&[], &[], "x", "");
        assert!(!none.contains("\tx\n"));
        let extra = vec![("db".to_string(), "10.0.0.9".parse().expect("ip"))];
        let h = render_hosts(&extra, &own, "web", "example.org");
        assert!(h.contains("10.0.0.9\tdb\n172.17.0.2\tweb.example.org web\n"));
    }

    #[test]
    fn resolv_internal_and_legacy() {
        let host = ResolvConf::parse(
            "# c\nnameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch a.example b.example\n",
        );
        assert_eq!(host.nameservers.len(), 2);
        let d = DnsSettings::default();
        assert_eq!(
            render_resolv_internal(&host, &d),
            "nameserver 127.0.0.11\nsearch a.example b.example\noptions ndots:0\n"
        );
        assert_eq!(
            render_resolv_legacy(&host, &d, false),
            "nameserver 10.1.1.1\nsearch a.example b.example\n"
        );
        assert_eq!(
            render_resolv_legacy(&host, &d, true),
            "nameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch a.example b.example\n"
        );
        let daemon: Vec<IpAddr> = vec!["192.0.2.2".parse().expect("ip")];
        let d = DnsSettings {
            daemon_dns: &daemon,
            ..Default::default()
        };
        assert_eq!(
            render_resolv_legacy(&host, &d, false),
            "nameserver 192.0.2.2\nsearch a.example b.example\n"
        );
        assert_eq!(resolver_upstreams(&host, &d), daemon);
    }
}
