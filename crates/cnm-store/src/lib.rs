//! cnm's durable local store: one redb file (`<data-root>/cnm.redb`) holding the daemon's intent —
//! networks, endpoints and containers — as versioned JSON records. Every change the controller makes is
//! one write transaction, so a crash leaves either the old or the new state, never half of one.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Record kinds; each is one redb table keyed by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Network,
    Endpoint,
    Container,
    Meta,
}

impl Kind {
    fn table(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        match self {
            Kind::Network => TableDefinition::new("networks"),
            Kind::Endpoint => TableDefinition::new("endpoints"),
            Kind::Container => TableDefinition::new("containers"),
            Kind::Meta => TableDefinition::new("meta"),
        }
    }

    const ALL: [Kind; 4] = [Kind::Network, Kind::Endpoint, Kind::Container, Kind::Meta];
}

/// Version written with every record; readers refuse records from a newer cnm.
/// 2: published ports are kept as runs (`count` on port requests and mappings, `first-last/proto`
/// exposed ports); version 1 records read as runs of one, but a version-1 cnm would take a run for
/// its first port, so it must refuse these.
pub const RECORD_VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("another cnm daemon is already using {0} (only one daemon per data-root)")]
    AlreadyOpen(String),
    #[error("store {op}: {message}")]
    Db { op: &'static str, message: String },
    #[error("record {kind:?}/{key} is not valid JSON: {source}")]
    Decode {
        kind: Kind,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("record {kind:?}/{key} has version {found}, newer than this cnm understands ({RECORD_VERSION})")]
    TooNew { kind: Kind, key: String, found: u32 },
    #[error("encode record: {0}")]
    Encode(#[from] serde_json::Error),
}

fn db_err<E: std::fmt::Display>(op: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::Db {
        op,
        message: e.to_string(),
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Serialize, serde::Deserialize)]
struct Envelope<T> {
    v: u32,
    data: T,
}

pub struct Store {
    db: Database,
}

/// One pending write transaction: collect puts and deletes, then `commit` applies them atomically.
#[derive(Default)]
pub struct Batch {
    ops: Vec<(Kind, String, Option<Vec<u8>>)>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put<T: Serialize>(&mut self, kind: Kind, key: &str, value: &T) -> Result<&mut Self> {
        let bytes = serde_json::to_vec(&Envelope {
            v: RECORD_VERSION,
            data: value,
        })?;
        self.ops.push((kind, key.to_string(), Some(bytes)));
        Ok(self)
    }

    pub fn delete(&mut self, kind: Kind, key: &str) -> &mut Self {
        self.ops.push((kind, key.to_string(), None));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl Store {
    /// Open or create `<dir>/cnm.redb`. Fails with `AlreadyOpen` when another process holds it.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("cnm.redb");
        let db = match Database::create(&path) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::AlreadyOpen(dir.display().to_string()))
            }
            Err(e) => {
                return Err(StoreError::Db {
                    op: "open",
                    message: e.to_string(),
                })
            }
        };
        let tx = db.begin_write().map_err(db_err("begin"))?;
        for kind in Kind::ALL {
            tx.open_table(kind.table())
                .map_err(db_err("create table"))?;
        }
        tx.commit().map_err(db_err("commit"))?;
        Ok(Store { db })
    }

    pub fn commit(&self, batch: Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(db_err("begin"))?;
        {
            for (kind, key, value) in &batch.ops {
                let mut table = tx.open_table(kind.table()).map_err(db_err("open table"))?;
                match value {
                    Some(bytes) => {
                        table
                            .insert(key.as_str(), bytes.as_slice())
                            .map_err(db_err("insert"))?;
                    }
                    None => {
                        table.remove(key.as_str()).map_err(db_err("remove"))?;
                    }
                }
            }
        }
        tx.commit().map_err(db_err("commit"))
    }

    pub fn put<T: Serialize>(&self, kind: Kind, key: &str, value: &T) -> Result<()> {
        let mut b = Batch::new();
        b.put(kind, key, value)?;
        self.commit(b)
    }

    pub fn get<T: DeserializeOwned>(&self, kind: Kind, key: &str) -> Result<Option<T>> {
        let tx = self.db.begin_read().map_err(db_err("begin read"))?;
        let table = tx.open_table(kind.table()).map_err(db_err("open table"))?;
        let Some(v) = table.get(key).map_err(db_err("get"))? else {
            return Ok(None);
        };
        decode(kind, key, v.value()).map(Some)
    }

    /// Every record of a kind, in key order.
    pub fn list<T: DeserializeOwned>(&self, kind: Kind) -> Result<Vec<(String, T)>> {
        let tx = self.db.begin_read().map_err(db_err("begin read"))?;
        let table = tx.open_table(kind.table()).map_err(db_err("open table"))?;
        let mut out = Vec::new();
        for item in table.iter().map_err(db_err("iterate"))? {
            let (k, v) = item.map_err(db_err("iterate"))?;
            let key = k.value().to_string();
            let rec = decode(kind, &key, v.value())?;
            out.push((key, rec));
        }
        Ok(out)
    }
}

fn decode<T: DeserializeOwned>(kind: Kind, key: &str, bytes: &[u8]) -> Result<T> {
    #[derive(serde::Deserialize)]
    struct Head {
        v: u32,
    }
    let head: Head = serde_json::from_slice(bytes).map_err(|source| StoreError::Decode {
        kind,
        key: key.to_string(),
        source,
    })?;
    if head.v > RECORD_VERSION {
        return Err(StoreError::TooNew {
            kind,
            key: key.to_string(),
            found: head.v,
        });
    }
    let env: Envelope<T> = serde_json::from_slice(bytes).map_err(|source| StoreError::Decode {
        kind,
        key: key.to_string(),
        source,
    })?;
    Ok(env.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Rec {
        name: String,
    }

    #[test]
    fn batch_is_atomic_and_readable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let mut b = Batch::new();
        b.put(Kind::Network, "n1", &Rec { name: "a".into() })
            .expect("put");
        b.put(Kind::Endpoint, "e1", &Rec { name: "b".into() })
            .expect("put");
        store.commit(b).expect("commit");
        let nets: Vec<(String, Rec)> = store.list(Kind::Network).expect("list");
        assert_eq!(nets, vec![("n1".to_string(), Rec { name: "a".into() })]);
        let mut b = Batch::new();
        b.delete(Kind::Network, "n1");
        store.commit(b).expect("commit");
        assert!(store
            .get::<Rec>(Kind::Network, "n1")
            .expect("get")
            .is_none());
        assert!(store
            .get::<Rec>(Kind::Endpoint, "e1")
            .expect("get")
            .is_some());
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            store
                .put(Kind::Container, "c", &Rec { name: "x".into() })
                .expect("put");
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(
            store.get::<Rec>(Kind::Container, "c").expect("get"),
            Some(Rec { name: "x".into() })
        );
    }

    #[test]
    fn second_open_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _store = Store::open(dir.path()).expect("open");
        match Store::open(dir.path()) {
            Err(StoreError::AlreadyOpen(_)) => {}
            other => panic!("expected AlreadyOpen, got {:?}", other.err()),
        }
    }

    #[test]
    fn newer_records_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let mut b = Batch::new();
        b.ops.push((
            Kind::Meta,
            "k".into(),
            Some(br#"{"v":99,"data":{"name":"x"}}"#.to_vec()),
        ));
        store.commit(b).expect("commit");
        assert!(matches!(
            store.get::<Rec>(Kind::Meta, "k"),
            Err(StoreError::TooNew { .. })
        ));
    }
}
