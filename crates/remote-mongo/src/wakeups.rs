//! Change-stream wakeups: idle workers learn of jobs added by other processes.

use std::sync::Arc;
use std::time::Duration;

use mongodb::bson::{doc, Document};
use mongodb::change_stream::event::ChangeStreamEvent;
use mongodb::change_stream::ChangeStream;
use mongodb::error::ErrorKind;
use mongodb::Collection;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// The background task turning inserts seen on the change stream into wakeups; aborted when
/// the last clone of the store is dropped.
pub(crate) struct Watcher(JoinHandle<()>);

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type Inserts = ChangeStream<ChangeStreamEvent<Document>>;

/// A change stream of inserts into `jobs` that carries no documents, only the fact.
async fn watch_inserts(jobs: &Collection<Document>) -> mongodb::error::Result<Inserts> {
    jobs.watch()
        .pipeline([
            doc! { "$match": { "operationType": "insert" } },
            doc! { "$project": { "_id": 1, "operationType": 1 } },
        ])
        .await
}

/// The server's reason when the deployment has no change streams (a standalone server, for
/// one); `None` for other errors, which are retried.
fn unsupported(error: &mongodb::error::Error) -> Option<String> {
    match &*error.kind {
        ErrorKind::Command(e) if matches!(e.code, 20 | 115 | 40573) => {
            Some(format!("{} (code {})", e.message, e.code))
        }
        _ => None,
    }
}

/// Opens the change stream on `jobs` before returning, so a job added after the store is
/// open wakes this process; `None` (polling) when the deployment has no change streams.
pub(crate) async fn open_wakeups(jobs: &Collection<Document>) -> Option<(Arc<Notify>, Watcher)> {
    let first = match watch_inserts(jobs).await {
        Ok(stream) => Some(stream),
        Err(e) => {
            if let Some(reason) = unsupported(&e) {
                info!("MongoDB change streams are not available: {reason}; idle workers poll");
                return None;
            }
            warn!(
                "Could not open a change stream on '{}' yet: {e}",
                jobs.name()
            );
            None
        }
    };
    let notify = Arc::new(Notify::new());
    let task = tokio::spawn(wake_on_inserts(jobs.clone(), notify.clone(), first));
    Some((notify, Watcher(task)))
}

/// Wakes every idle worker, and leaves a permit for one that is about to idle.
pub(crate) fn wake(notify: &Notify) {
    notify.notify_waiters();
    notify.notify_one();
}

/// Wakes workers on every insert; reopens the stream with backoff when it breaks or the server
/// closes it (waking the workers, since inserts may have been missed), and stops for good if
/// the deployment turns out to lack change streams.
async fn wake_on_inserts(jobs: Collection<Document>, notify: Arc<Notify>, first: Option<Inserts>) {
    const MIN_BACKOFF: Duration = Duration::from_millis(100);
    const MAX_BACKOFF: Duration = Duration::from_secs(30);
    let mut backoff = MIN_BACKOFF;
    let mut next = first;
    loop {
        let mut stream = match next.take() {
            Some(stream) => stream,
            None => {
                match watch_inserts(&jobs).await {
                    Ok(stream) => {
                        wake(&notify);
                        stream
                    }
                    Err(e) => {
                        if let Some(reason) = unsupported(&e) {
                            info!("MongoDB change streams are not available: {reason}; idle workers poll");
                            return;
                        }
                        warn!("Could not open a change stream on '{}': {e}", jobs.name());
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }
        };
        // One `getMore` per turn, and only while the server keeps the stream open: the
        // driver's `Stream` loops without yielding once the server has closed it (an
        // invalidated stream, when the collection or database is dropped).
        while stream.is_alive() {
            match stream.next_if_any().await {
                Ok(Some(_)) => {
                    backoff = MIN_BACKOFF;
                    wake(&notify);
                }
                Ok(None) => {}
                Err(e) => {
                    warn!("The change stream on '{}' broke: {e}", jobs.name());
                    break;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
