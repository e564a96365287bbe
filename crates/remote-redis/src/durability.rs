//! What a Redis restart can lose, read from the server's persistence settings at open.

use redis::aio::ConnectionManager;
use tracing::{info, warn};

/// How much of what the store acknowledged survives a restart of the Redis server, from its
/// `appendonly` and `appendfsync` settings as read when the store was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `appendonly yes`, `appendfsync always`: every change is on disk before the reply, so a
    /// crash of the server or the machine loses nothing acknowledged (RELIABILITY.md, R21).
    Always,
    /// `appendonly yes`, `appendfsync everysec`: a crash of the server process loses nothing;
    /// a crash of the machine may lose about the last second of acknowledged changes.
    EverySecond,
    /// `appendonly yes`, `appendfsync no`: the kernel decides when to write; a crash of the
    /// machine may lose tens of seconds of acknowledged changes.
    OsFlush,
    /// `appendonly no`: only RDB snapshots, if any, survive; a restart loses every change since
    /// the last one (all of them with `save ""`).
    Snapshots,
    /// The settings could not be read (`CONFIG` renamed or refused, as managed services do).
    Unknown,
}

impl Durability {
    /// True when a crash of the server or its machine loses nothing that was acknowledged.
    pub fn keeps_acknowledged_changes(self) -> bool {
        self == Durability::Always
    }
}

async fn config_get(conn: &mut ConnectionManager, name: &str) -> redis::RedisResult<String> {
    let reply: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(conn)
        .await?;
    match reply.as_slice() {
        [key, value] if key == name => Ok(value.clone()),
        _ => Err(redis::RedisError::from((
            redis::ErrorKind::Parse,
            "unexpected CONFIG GET reply",
        ))),
    }
}

/// Reads the persistence settings and warns, naming the store, when they cannot keep what
/// RELIABILITY.md promises; tolerates servers where `CONFIG` is unavailable.
pub(crate) async fn check(conn: &mut ConnectionManager, store: &str) -> Durability {
    let settings = async {
        let appendonly = config_get(conn, "appendonly").await?;
        let appendfsync = config_get(conn, "appendfsync").await?;
        Ok::<_, redis::RedisError>((appendonly, appendfsync))
    }
    .await;
    let durability = match settings {
        Err(e) => {
            info!(
                "Redis store {store}: cannot read the persistence settings ({e}); make sure the \
                 server runs with appendonly yes and appendfsync always"
            );
            return Durability::Unknown;
        }
        Ok((appendonly, _)) if appendonly != "yes" => Durability::Snapshots,
        Ok((_, appendfsync)) => match appendfsync.as_str() {
            "always" => Durability::Always,
            "everysec" => Durability::EverySecond,
            _ => Durability::OsFlush,
        },
    };
    match durability {
        Durability::Snapshots => warn!(
            "Redis store {store}: the server runs with appendonly no, so a restart loses every \
             job change since the last snapshot; set appendonly yes and appendfsync always to \
             lose nothing acknowledged"
        ),
        Durability::EverySecond => warn!(
            "Redis store {store}: the server runs with appendfsync everysec, so a crash of its \
             machine may lose about a second of acknowledged job changes; set appendfsync always \
             to lose nothing acknowledged"
        ),
        Durability::OsFlush => warn!(
            "Redis store {store}: the server runs with appendfsync no, so a crash of its machine \
             may lose acknowledged job changes; set appendfsync always to lose nothing \
             acknowledged"
        ),
        Durability::Always | Durability::Unknown => {}
    }
    durability
}
