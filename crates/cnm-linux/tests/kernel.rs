//! Kernel tests of the netlink and namespace primitives. Each test runs in a network namespace (and a
//! private mount namespace) of its own, created by the test thread itself; they need root and fail
//! loudly without it.

use std::path::PathBuf;

use cnm_linux::{netns, Netlink, VethSpec};

fn isolate() -> tempfile::TempDir {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "kernel tests need root (run as root, e.g. in CI)"
    );
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare netns");
    tempfile::tempdir().expect("tempdir")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn veth_peer_is_created_inside_the_namespace() {
    let dir = isolate();
    rt().block_on(async {
        let host = Netlink::current().expect("netlink");
        let ns: PathBuf = dir.path().join("ns1");
        netns::create(&ns).await.expect("create netns");
        assert!(netns::is_bound(&ns));
        let br = host
            .create_bridge("br-test", [2, 0x42, 1, 2, 3, 4], None)
            .await
            .expect("bridge");
        host.create_veth(&VethSpec {
            host_name: "vethtest0",
            peer_name: "eth0",
            peer_netns: &ns,
            peer_mac: Some([2, 0, 0, 0, 0, 9]),
            mtu: Some(1400),
            master: Some(br),
            host_ipv6_off: true,
            hairpin: true,
            host_alias: None,
        })
        .await
        .expect("veth");
        let host_end = host
            .link_by_name("vethtest0")
            .await
            .expect("get")
            .expect("host end exists");
        assert_eq!(host_end.master, Some(br));
        assert_eq!(host_end.mtu, Some(1400));
        let inside = Netlink::in_netns(&ns, || Ok(()))
            .await
            .expect("netlink in ns");
        let lo = inside.link_by_name("lo").await.expect("get").expect("lo");
        assert!(lo.up, "a new namespace has lo up");
        let eth0 = inside
            .link_by_name("eth0")
            .await
            .expect("get")
            .expect("eth0 inside");
        assert_eq!(eth0.mac, Some([2, 0, 0, 0, 0, 9]));
        assert!(
            host.link_by_name("eth0").await.expect("get").is_none(),
            "peer must not be in the host namespace"
        );
        netns::remove(&ns).expect("remove");
        assert!(!ns.exists());
    });
}

/// The in-process nf_tables batch programs the DNS redirect; replacing it leaves only the new ports;
/// a client's packets to 127.0.0.11:53 reach the resolver socket and its replies come back from :53.
#[test]
fn dns_redirect_over_nfnetlink_works_and_is_replaced_atomically() {
    use std::net::{Ipv4Addr, UdpSocket};
    use std::time::Duration;

    let _dir = isolate();
    let lo_up = std::process::Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip");
    assert!(lo_up.success());
    let listen = Ipv4Addr::new(127, 0, 0, 11);
    let server = UdpSocket::bind((listen, 0)).expect("bind resolver socket");
    let port = server.local_addr().expect("addr").port();
    let tcp = std::net::TcpListener::bind((listen, 0)).expect("bind tcp");
    let tport = tcp.local_addr().expect("addr").port();

    // A stale redirect from an earlier daemon; creating again is refused as a whole (the old rules
    // stay); replacing swaps the rules in one transaction.
    use cnm_linux::nftnl::{apply, dns_redirect_batch, Redirect};
    let (b, acks) = dns_redirect_batch(1, Redirect::Create, listen, 1111, 2222);
    apply(&b, acks).expect("first batch");
    let (b, acks) = dns_redirect_batch(20, Redirect::Create, listen, port, tport);
    let err = apply(&b, acks).expect_err("the table exists");
    assert_eq!(err.errno(), Some(nix::errno::Errno::EEXIST), "{err}");
    let (b, acks) = dns_redirect_batch(50, Redirect::Replace, listen, port, tport);
    apply(&b, acks).expect("replacing batch");

    let out = std::process::Command::new("nft")
        .args(["list", "table", "ip", "cnm-dns"])
        .output()
        .expect("nft");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "nft: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("type nat hook output priority -100")
            || text.contains("type nat hook output priority dstnat"),
        "{text}"
    );
    assert!(
        text.contains("type nat hook postrouting priority srcnat"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ip daddr 127.0.0.11 udp dport 53 dnat to 127.0.0.11:{port}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ip daddr 127.0.0.11 tcp dport 53 dnat to 127.0.0.11:{tport}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ip saddr 127.0.0.11 udp sport {port} snat to 127.0.0.11:53"
        )),
        "{text}"
    );
    assert!(
        !text.contains("1111") && !text.contains("2222"),
        "old rules remain: {text}"
    );

    // Something else may own port 53 on 0.0.0.0: the redirect still wins for 127.0.0.11.
    let squatter = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 53)).expect("bind :53");
    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("client");
    client.connect((listen, 53)).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    client.send(b"ping").expect("send");
    server
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    let (n, from) = server
        .recv_from(&mut buf)
        .expect("resolver socket got the packet");
    assert_eq!(&buf[..n], b"ping");
    server.send_to(b"pong", from).expect("reply");
    let n = client.recv(&mut buf).expect("reply came back from :53");
    assert_eq!(&buf[..n], b"pong");
    drop(squatter);

    // TCP too.
    let mut c = std::net::TcpStream::connect((listen, 53)).expect("tcp connect via redirect");
    let (mut s, _) = tcp.accept().expect("accept");
    use std::io::{Read, Write};
    c.write_all(b"x").expect("write");
    s.read_exact(&mut buf[..1]).expect("read");
    assert_eq!(buf[0], b'x');
}
