//! Self-healing, end to end: someone else deletes or flushes parts of cnm's tables in the world; cnm
//! puts them back within a second, once per tampering, keeps the user chain's rules where they can
//! survive, and leaves the ruleset alone when nothing changed.

use super::*;

/// How many times the daemon logged restoring its ruleset.
fn restorations(w: &World) -> usize {
    w.log()
        .lines()
        .filter(|l| l.contains("restored it"))
        .count()
}

/// Wait until `done` holds; fails after a second. How long it took, printed for the record.
#[track_caller]
fn within_a_second(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{what}: not restored within 1 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = start.elapsed();
    eprintln!("{what}: restored after {} ms", took.as_millis());
    took
}

/// What `nft monitor` prints over `d` (in the world): every transaction anyone commits.
fn transactions_during(w: &World, d: Duration) -> String {
    let secs = format!("{:.1}", d.as_secs_f64());
    w.sh(&format!("timeout {secs} nft monitor; true")).stdout
}

fn chain(w: &World, family: &str, name: &str) -> String {
    w.sh(&format!("nft list chain {family} cnm {name}")).stdout
}

/// A world with a published port the peer reaches.
fn published(w: &World) -> (Peer, String) {
    let peer = Peer::new(w, None);
    w.cnm(&["network", "create", "app"]).ok();
    web(w, "web", "app", &["-p", "8080:80"], "healed\n");
    let url = format!("http://{HOST}:8080/");
    assert_eq!(peer.fetch(w, &url), Some("healed\n".into()), "before");
    (peer, url)
}

#[test]
fn flushed_rules_come_back_within_a_second() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    web(&w, "web", "app", &["-p", "8080:80"], "healed\n");
    w.sh("nft flush ruleset").ok();
    within_a_second("nft flush ruleset", || ruleset(&w).contains(". 8080 :"));
    assert_eq!(
        from_host(&w, "http://127.0.0.1:8080/"),
        Some("healed\n".into())
    );
    assert!(w.log().contains("restored"), "the healing was not logged");
    // A user chain rule survives everything cnm does.
    w.sh("nft add rule ip cnm user tcp dport 9999 drop").ok();
    w.sh("nft delete table ip cnm").ok();
    std::thread::sleep(Duration::from_millis(900));
    w.cnm(&["network", "create", "more"]).ok();
    assert!(ruleset(&w).contains("chain user"));
}

#[test]
fn a_deleted_table_comes_back_once_and_the_port_answers() {
    let w = World::new();
    let (peer, url) = published(&w);
    w.sh("nft delete table ip cnm").ok();
    within_a_second("nft delete table ip cnm", || {
        w.sh("nft list table ip cnm").stdout.contains(". 8080 :")
    });
    assert_eq!(peer.fetch(&w, &url), Some("healed\n".into()), "after");
    // The IPv6 table was not touched, and the log says what was missing.
    let log = w.log();
    let line = log
        .lines()
        .find(|l| l.contains("restored it"))
        .expect("the restoration is logged");
    assert!(line.contains("table ip cnm"), "{line}");
    assert!(line.contains("nft (pid "), "the culprit is named: {line}");
    // Exactly once, and nothing more happens afterwards.
    assert_eq!(
        transactions_during(&w, Duration::from_secs(1)),
        "",
        "the ruleset kept changing while nobody touched it"
    );
    assert_eq!(restorations(&w), 1, "{}", w.log());
}

#[test]
fn a_flushed_or_deleted_chain_comes_back_and_the_user_chain_survives() {
    let w = World::new();
    let (peer, url) = published(&w);
    w.sh("nft add rule ip cnm user tcp dport 9999 drop").ok();
    // A user's rule in the user chain is the user's business: no check finds anything to restore.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(restorations(&w), 0, "{}", w.log());

    // The chain that sends published ports to nat-ports, flushed: every published port is dead.
    w.sh("nft flush chain ip cnm nat-PREROUTING").ok();
    within_a_second("nft flush chain ip cnm nat-PREROUTING", || {
        chain(&w, "ip", "nat-PREROUTING").contains("jump nat-ports")
    });
    assert_eq!(peer.fetch(&w, &url), Some("healed\n".into()), "after flush");
    assert_eq!(restorations(&w), 1, "{}", w.log());

    // One of cnm's chains deleted (after emptying what jumps to it), in one transaction.
    w.sh(
        "nft 'flush chain ip cnm nat-PREROUTING; flush chain ip cnm nat-OUTPUT; \
         flush chain ip cnm nat-ports; delete chain ip cnm nat-ports'",
    )
    .ok();
    within_a_second("nft delete chain ip cnm nat-ports", || {
        chain(&w, "ip", "nat-ports").matches("map @dnat-").count() == 4
            && chain(&w, "ip", "nat-PREROUTING").contains("jump nat-ports")
    });
    assert_eq!(
        peer.fetch(&w, &url),
        Some("healed\n".into()),
        "after delete"
    );
    assert_eq!(restorations(&w), 2, "{}", w.log());

    // The forward chain of the other family.
    w.sh("nft flush chain ip6 cnm filter-FORWARD").ok();
    within_a_second("nft flush chain ip6 cnm filter-FORWARD", || {
        chain(&w, "ip6", "filter-FORWARD").contains("jump user")
    });

    // The user's rule is still there: a replacement never flushes the user chain.
    assert!(
        chain(&w, "ip", "user").contains("tcp dport 9999 drop"),
        "{}",
        chain(&w, "ip", "user")
    );
    assert_eq!(
        transactions_during(&w, Duration::from_secs(1)),
        "",
        "the ruleset kept changing while nobody touched it"
    );
    assert_eq!(restorations(&w), 3, "{}", w.log());
}

#[test]
fn cnm_leaves_its_own_ruleset_alone() {
    let mut w = World::new();
    // Every kind of network and a published port: cnm's own transactions, none of them tampering.
    w.cnm(&["network", "create", "app"]).ok();
    w.cnm(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "noicc",
    ])
    .ok();
    w.cnm(&["network", "create", "--internal", "inside"]).ok();
    w.cnm(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:77::/64",
        "six",
    ])
    .ok();
    web(&w, "web", "app", &["-p", "8080:80"], "x\n");
    w.cnm(&["network", "rm", "inside"]).ok();
    // A restart checks against what it replaced at start.
    w.stop_daemon(Signal::SIGTERM);
    w.start_daemon(&[]);
    assert_eq!(
        transactions_during(&w, Duration::from_secs(1)),
        "",
        "the ruleset kept changing while nobody touched it"
    );
    let log = w.log();
    assert!(
        log.contains("ruleset is intact"),
        "the start-up check did not run: {log}"
    );
    assert_eq!(restorations(&w), 0, "{log}");
}

#[test]
fn a_big_publish_goes_unannounced_and_is_checked_after() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    // 2000 translated ports: one map element each, a transaction of ≈ 60 KB.
    web(&w, "big", "app", &["-p", "30000-31999:40000-41999"], "x\n");
    let start = Instant::now();
    // (The log is coloured: match the message and the field's value, not `check=…`.)
    let checked = |log: String| {
        log.lines()
            .any(|l| l.contains("ruleset is intact") && l.contains("Resumed"))
    };
    while !checked(w.log()) {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "no check after the paused transaction: {}",
            w.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ruleset(&w).contains(". 31999 :"));
    assert_eq!(
        transactions_during(&w, Duration::from_secs(1)),
        "",
        "the ruleset kept changing while nobody touched it"
    );
    assert_eq!(restorations(&w), 0, "{}", w.log());
}
