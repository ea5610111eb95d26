//! Helpers of the DNS tests: `dig` inside containers, and a small DNS server for forwarding tests, started by the test itself inside its world's network
//! namespace (never a real resolver). Its sockets are made by a thread that entered that namespace;
//! they are then served from ordinary threads of the test process. It answers A queries for the
//! names it was given, NXDOMAIN for others, and records every query with its source address.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

use crate::common::World;

/// `dig` inside a container: one try, short timeout; returns (status, answer lines).
pub fn dig(w: &World, ctr: &str, args: &[&str]) -> (String, Vec<String>) {
    let mut a = vec![
        "exec",
        ctr,
        "dig",
        "+tries=1",
        "+time=3",
        "+noall",
        "+comments",
        "+answer",
    ];
    a.extend_from_slice(args);
    let out = w.cnm(&a);
    let status = out
        .stdout
        .lines()
        .find_map(|l| l.split("status: ").nth(1))
        .map(|s| s.split(',').next().unwrap_or("").to_string())
        .unwrap_or_else(|| {
            format!(
                "no reply (code {}: {} {})",
                out.code, out.stdout, out.stderr
            )
        });
    let answers = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    (status, answers)
}

/// The data of the answer records (last field), sorted.
pub fn addrs(answers: &[String]) -> Vec<String> {
    let mut v: Vec<String> = answers
        .iter()
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect();
    v.sort();
    v
}

pub fn sleeper(w: &World, name: &str, opts: &[&str]) -> String {
    w.run_bg(name, opts, &["sleep", "100000"])
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Answer,
    /// Never replies (a dead server).
    Silent,
    ServFail,
}

/// A query the server saw: (lowercased name without the dot, type, source, over TCP).
pub type Seen = (String, RecordType, SocketAddr, bool);

pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

/// Bind UDP and TCP on `addr` inside the network namespace of process `pid`.
fn bind_in(pid: u32, addr: SocketAddr) -> (UdpSocket, TcpListener) {
    let ns = File::open(format!("/proc/{pid}/ns/net")).expect("world netns");
    std::thread::spawn(move || {
        nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let u = UdpSocket::bind(addr).expect("bind upstream udp");
        let t = TcpListener::bind(addr).expect("bind upstream tcp");
        (u, t)
    })
    .join()
    .expect("bind thread")
}

fn reply(
    q: &[u8],
    records: &HashMap<String, Ipv4Addr>,
    mode: Mode,
) -> Option<(Vec<u8>, String, RecordType)> {
    let m = Message::from_vec(q).ok()?;
    if m.metadata.message_type != MessageType::Query {
        return None;
    }
    let query = m.queries.first()?.clone();
    let name = query
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let mut r = Message::response(m.metadata.id, m.metadata.op_code);
    r.metadata.recursion_desired = m.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    r.add_query(query.clone());
    match (mode, records.get(&name)) {
        (Mode::ServFail, _) => r.metadata.response_code = ResponseCode::ServFail,
        (_, Some(ip)) if query.query_type() == RecordType::A => {
            r.add_answer(Record::from_rdata(
                query.name().clone(),
                60,
                RData::A(A(*ip)),
            ));
        }
        (_, Some(_)) => {}
        (_, None) => r.metadata.response_code = ResponseCode::NXDomain,
    }
    Some((r.to_vec().ok()?, name, query.query_type()))
}

/// Start a server at `addr` (port 53 normally) inside the namespace of `pid`.
pub fn start(pid: u32, addr: SocketAddr, records: &[(&str, Ipv4Addr)], mode: Mode) -> Upstream {
    let (udp, tcp) = bind_in(pid, addr);
    let records: Arc<HashMap<String, Ipv4Addr>> = Arc::new(
        records
            .iter()
            .map(|(n, ip)| (n.to_ascii_lowercase(), *ip))
            .collect(),
    );
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    {
        let (records, seen) = (records.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                if let Some((out, name, qt)) = reply(&buf[..n], &records, mode) {
                    seen.lock().expect("lock").push((name, qt, from, false));
                    if mode != Mode::Silent {
                        let _ = udp.send_to(&out, from);
                    }
                }
            }
        });
    }
    {
        let (records, seen) = (records.clone(), seen.clone());
        std::thread::spawn(move || {
            for s in tcp.incoming() {
                let Ok(mut s) = s else { continue };
                let (records, seen) = (records.clone(), seen.clone());
                std::thread::spawn(move || {
                    let from = s.peer_addr().expect("peer");
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut len = [0u8; 2];
                    while s.read_exact(&mut len).is_ok() {
                        let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                        if s.read_exact(&mut q).is_err() {
                            return;
                        }
                        if let Some((out, name, qt)) = reply(&q, &records, mode) {
                            seen.lock().expect("lock").push((name, qt, from, true));
                            if mode == Mode::Silent {
                                continue;
                            }
                            let mut framed = (out.len() as u16).to_be_bytes().to_vec();
                            framed.extend_from_slice(&out);
                            let _ = s.write_all(&framed);
                        }
                    }
                });
            }
        });
    }
    Upstream { addr, seen }
}
