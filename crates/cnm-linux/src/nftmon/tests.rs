use super::*;
use crate::nlmsg::{nfnl_message, push_attr};

fn nft_msg(msg: u16, family: u8, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut p = Vec::new();
    for (k, v) in attrs {
        push_attr(&mut p, *k, v);
    }
    nfnl_message((NFNL_SUBSYS_NFTABLES << 8) | msg, 0, 0, family, 0, &p)
}

fn change(op: Op, object: Object, family: u8, table: &str, name: Option<&str>) -> Notification {
    Notification::Change(Change {
        op,
        object,
        family,
        table: table.into(),
        name: name.map(str::to_string),
    })
}

/// What `nft flush chain ip cnm filter-FORWARD` announces when the chain held two rules, as the
/// kernel batches it: two DELRULEs in one datagram, then NEWGEN in the next.
#[test]
fn a_flushed_chain_is_two_rule_deletions_and_a_generation() {
    let mut buf = nft_msg(
        NFT_MSG_DELRULE,
        NFPROTO_IPV4,
        &[
            (1, b"cnm\0"),
            (2, b"filter-FORWARD\0"),
            (3, &7u64.to_be_bytes()),
        ],
    );
    buf.extend(nft_msg(
        NFT_MSG_DELRULE,
        NFPROTO_IPV4,
        &[(1, b"cnm\0"), (2, b"filter-FORWARD\0")],
    ));
    let n = parse(&buf);
    let want = change(Op::Del, Object::Rule, 2, "cnm", Some("filter-FORWARD"));
    assert_eq!(n, [want.clone(), want]);
    let gen = nft_msg(
        NFT_MSG_NEWGEN,
        0,
        &[
            (NFTA_GEN_ID, &41u32.to_be_bytes()),
            (NFTA_GEN_PROC_PID, &4242u32.to_be_bytes()),
            (NFTA_GEN_PROC_NAME, b"nft\0"),
        ],
    );
    assert_eq!(
        parse(&gen),
        [Notification::Generation(Generation {
            id: 41,
            pid: 4242,
            proc_name: Some("nft".into())
        })]
    );
}

#[test]
fn every_object_kind_names_its_table_and_chain_or_set() {
    type Attrs<'a> = &'a [(u16, &'a [u8])];
    let cases: [(u16, Attrs, Notification); 8] = [
        (
            NFT_MSG_DELTABLE,
            &[(1, b"cnm\0")],
            change(Op::Del, Object::Table, 10, "cnm", None),
        ),
        (
            NFT_MSG_NEWCHAIN,
            &[(1, b"cnm\0"), (2, &[0; 8]), (3, b"user\0")],
            change(Op::New, Object::Chain, 10, "cnm", Some("user")),
        ),
        (
            NFT_MSG_DESTROYCHAIN,
            &[(1, b"cnm\0"), (3, b"nat-ports\0")],
            change(Op::Del, Object::Chain, 10, "cnm", Some("nat-ports")),
        ),
        (
            NFT_MSG_NEWRULE,
            &[(1, b"cnm\0"), (2, b"nat-OUTPUT\0")],
            change(Op::New, Object::Rule, 10, "cnm", Some("nat-OUTPUT")),
        ),
        (
            NFT_MSG_NEWSET,
            &[(1, b"cnm\0"), (2, b"fwd-in\0")],
            change(Op::New, Object::Set, 10, "cnm", Some("fwd-in")),
        ),
        (
            NFT_MSG_DELSETELEM,
            &[(1, b"cnm\0"), (2, b"dnat-any-same\0")],
            change(Op::Del, Object::SetElem, 10, "cnm", Some("dnat-any-same")),
        ),
        (
            NFT_MSG_NEWOBJ,
            &[(1, b"cnm\0"), (2, b"ctr\0")],
            change(Op::New, Object::Obj, 10, "cnm", Some("ctr")),
        ),
        (
            NFT_MSG_DELFLOWTABLE,
            &[(1, b"cnm\0"), (2, b"ft\0")],
            change(Op::Del, Object::Flowtable, 10, "cnm", Some("ft")),
        ),
    ];
    for (msg, attrs, want) in cases {
        assert_eq!(parse(&nft_msg(msg, NFPROTO_IPV6, attrs)), [want], "{msg}");
    }
}

#[test]
fn other_subsystems_unknown_types_and_garbage_are_skipped() {
    // ctnetlink (subsystem 1), a GET reply type, a table message without its name, and a cut tail.
    let mut buf = nfnl_message(1 << 8, 0, 0, 2, 0, &[]);
    buf.extend(nft_msg(1, 2, &[(1, b"cnm\0")]));
    buf.extend(nft_msg(NFT_MSG_NEWTABLE, 2, &[]));
    buf.extend(nft_msg(NFT_MSG_NEWTABLE, 2, &[(1, b"x\0")]));
    let whole = parse(&buf);
    assert_eq!(whole, [change(Op::New, Object::Table, 2, "x", None)]);
    assert!(parse(&buf[..buf.len() - 3]).is_empty());
    assert!(parse(&[0xff; 7]).is_empty());
}

#[test]
fn touches_matches_table_and_family() {
    let c = Change {
        op: Op::Del,
        object: Object::Rule,
        family: NFPROTO_IPV4,
        table: "cnm".into(),
        name: Some("filter-FORWARD".into()),
    };
    let fams = [NFPROTO_IPV4, NFPROTO_IPV6];
    assert!(c.touches("cnm", &fams));
    assert!(!c.touches("cnm-dns", &fams));
    // `table inet cnm` (NFPROTO_INET = 1) is somebody else's.
    assert!(!Change { family: 1, ..c }.touches("cnm", &fams));
}

/// Datagrams the kernel sent (6.18, nft 1.0.6) to this module's socket for
/// `nft 'add table ip cnm; add chain ip cnm c'` and then `nft delete table ip cnm`, verbatim: each
/// transaction's objects batched in one datagram, then its NEWGEN (sent by nft, pid 0x5184 and 0x5186).
#[test]
fn captured_create_and_delete_of_a_table() {
    let create: &[u8] = &[
        0x38, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x84, 0x51, 0x00,
        0x00, 0x02, 0x00, 0x00, 0x02, 0x08, 0x00, 0x01, 0x00, 0x63, 0x6e, 0x6d, 0x00, 0x08, 0x00,
        0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00,
        0x03, 0x0a, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00, 0x84, 0x51, 0x00, 0x00, 0x02, 0x00, 0x00,
        0x02, 0x08, 0x00, 0x01, 0x00, 0x63, 0x6e, 0x6d, 0x00, 0x06, 0x00, 0x03, 0x00, 0x63, 0x00,
        0x00, 0x00, 0x0c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08,
        0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    let gen2: &[u8] = &[
        0x2c, 0x00, 0x00, 0x00, 0x0f, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x84, 0x51, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x51, 0x84, 0x08, 0x00, 0x03, 0x00, 0x6e, 0x66, 0x74, 0x00,
    ];
    let delete: &[u8] = &[
        0x30, 0x00, 0x00, 0x00, 0x05, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x86, 0x51, 0x00,
        0x00, 0x02, 0x00, 0x00, 0x03, 0x08, 0x00, 0x01, 0x00, 0x63, 0x6e, 0x6d, 0x00, 0x06, 0x00,
        0x03, 0x00, 0x63, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x30, 0x00, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x86, 0x51, 0x00, 0x00, 0x02, 0x00, 0x00, 0x03, 0x08, 0x00, 0x01, 0x00, 0x63, 0x6e, 0x6d,
        0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    ];
    let gen3: &[u8] = &[
        0x2c, 0x00, 0x00, 0x00, 0x0f, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x86, 0x51, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x03, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x03, 0x08, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x51, 0x86, 0x08, 0x00, 0x03, 0x00, 0x6e, 0x66, 0x74, 0x00,
    ];
    assert_eq!(
        parse(create),
        [
            change(Op::New, Object::Table, 2, "cnm", None),
            change(Op::New, Object::Chain, 2, "cnm", Some("c")),
        ]
    );
    let gen = |id, pid| {
        vec![Notification::Generation(Generation {
            id,
            pid,
            proc_name: Some("nft".into()),
        })]
    };
    assert_eq!(parse(gen2), gen(2, 0x5184));
    assert_eq!(
        parse(delete),
        [
            change(Op::Del, Object::Chain, 2, "cnm", Some("c")),
            change(Op::Del, Object::Table, 2, "cnm", None),
        ]
    );
    assert_eq!(parse(gen3), gen(3, 0x5186));
}

/// The real thing, in a namespace of this test's own (needs root): every transaction touching the
/// table is announced, ends with a generation naming `nft`, and a refused one announces nothing.
#[test]
fn the_kernel_announces_changes_to_a_subscriber() {
    // SAFETY: unshare of the calling thread's network namespace only.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "this test needs root (unshare CLONE_NEWNET)");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut mon = Monitor::open().expect("subscribe");
        let nft = |script: &str| {
            std::process::Command::new("nft")
                .arg(script)
                .stderr(std::process::Stdio::null())
                .status()
                .expect("nft")
                .success()
        };
        // Reads until a generation comes, returning the changes before it.
        async fn transaction(mon: &mut Monitor) -> (Vec<Change>, Generation) {
            let mut changes = Vec::new();
            loop {
                let got = tokio::time::timeout(Duration::from_secs(5), mon.recv())
                    .await
                    .expect("a notification within 5 s")
                    .expect("recv");
                let Received::Notifications(n) = got else {
                    panic!("notifications lost");
                };
                for n in n {
                    match n {
                        Notification::Change(c) => changes.push(c),
                        Notification::Generation(g) => return (changes, g),
                    }
                }
            }
        }
        use std::time::Duration;
        assert!(nft(
            "add table ip cnm; add chain ip cnm c; add rule ip cnm c accept; add rule ip cnm c drop"
        ));
        let (c, g1) = transaction(&mut mon).await;
        let kinds: Vec<(Op, Object)> = c.iter().map(|c| (c.op, c.object)).collect();
        assert_eq!(
            kinds,
            [
                (Op::New, Object::Table),
                (Op::New, Object::Chain),
                (Op::New, Object::Rule),
                (Op::New, Object::Rule)
            ]
        );
        assert!(c.iter().all(|c| c.touches("cnm", &[NFPROTO_IPV4])));
        assert_eq!(g1.proc_name.as_deref(), Some("nft"));
        assert_ne!(g1.pid, 0);
        // Refused (no such chain): nothing is announced, so the next thing read is the flush.
        assert!(!nft("add rule ip cnm nope accept"));
        assert!(nft("flush chain ip cnm c"));
        let (c, g2) = transaction(&mut mon).await;
        assert_eq!(c.len(), 2);
        assert!(c
            .iter()
            .all(|c| (c.op, c.object, c.name.as_deref()) == (Op::Del, Object::Rule, Some("c"))));
        assert!(g2.id > g1.id, "generations grow: {} then {}", g1.id, g2.id);
        assert!(nft("delete table ip cnm"));
        let (c, _) = transaction(&mut mon).await;
        assert_eq!(
            c.last().map(|c| (c.op, c.object)),
            Some((Op::Del, Object::Table))
        );
    });
}

/// A subscriber that does not keep up hears so (`ENOBUFS`), then goes on receiving: the next
/// transaction, made right after the loss was reported, is heard (needs root).
#[test]
fn notifications_that_did_not_fit_are_reported_lost() {
    // SAFETY: unshare of the calling thread's network namespace only.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "this test needs root (unshare CLONE_NEWNET)");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut mon = Monitor::open().expect("subscribe");
        // The smallest buffer the kernel allows, and a transaction of 500 rules unread.
        assert!(setsockopt_int(
            mon.fd.get_ref(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            1
        ));
        let mut script = String::from("add table ip cnm\nadd chain ip cnm c\n");
        for i in 0..500 {
            script.push_str(&format!("add rule ip cnm c tcp dport {} accept\n", i + 1));
        }
        let st = std::process::Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().expect("stdin").write_all(script.as_bytes())?;
                c.wait()
            })
            .expect("nft");
        assert!(st.success());
        let mut lost = false;
        let deadline = std::time::Duration::from_secs(5);
        while !lost {
            let got = tokio::time::timeout(deadline, mon.recv())
                .await
                .expect("something within 5 s")
                .expect("recv");
            lost = got == Received::Lost;
        }
        // Still subscribed: with room again, the next transaction is heard.
        assert!(setsockopt_int(
            mon.fd.get_ref(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            1 << 20
        ));
        let st = std::process::Command::new("nft")
            .arg("delete table ip cnm")
            .status()
            .expect("nft");
        assert!(st.success());
        loop {
            let got = tokio::time::timeout(deadline, mon.recv())
                .await
                .expect("the deletion within 5 s")
                .expect("recv");
            if let Received::Notifications(n) = got {
                if n.iter().any(|n| {
                    matches!(n, Notification::Change(c) if c.object == Object::Table && c.op == Op::Del)
                }) {
                    break;
                }
            }
        }
    });
}

/// A paused subscription hears nothing of what happens meanwhile, and everything after it resumes.
#[test]
fn a_paused_subscription_misses_only_the_pause() {
    // SAFETY: unshare of the calling thread's network namespace only.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "this test needs root (unshare CLONE_NEWNET)");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut mon = Monitor::open().expect("subscribe");
        let sub = mon.subscription().expect("handle");
        let nft = |script: &str| {
            let st = std::process::Command::new("nft")
                .arg(script)
                .status()
                .expect("nft");
            assert!(st.success(), "{script}");
        };
        sub.pause().expect("pause");
        nft("add table ip paused");
        sub.resume().expect("resume");
        nft("add table ip resumed");
        let mut tables = Vec::new();
        while tables.is_empty() {
            let got = tokio::time::timeout(std::time::Duration::from_secs(5), mon.recv())
                .await
                .expect("a notification within 5 s")
                .expect("recv");
            let Received::Notifications(n) = got else {
                panic!("lost");
            };
            tables.extend(n.into_iter().filter_map(|n| match n {
                Notification::Change(c) if c.object == Object::Table => Some(c.table),
                _ => None,
            }));
        }
        assert_eq!(tables, ["resumed"]);
    });
}
