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
