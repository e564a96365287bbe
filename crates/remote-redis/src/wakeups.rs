//! Wakeups across processes: the insert and release scripts `PUBLISH` on the store's channel,
//! and a background task subscribed to it wakes this process's idle workers.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use redis::aio::PubSubStream;
use redis::Client;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::warn;

/// The subscriber task; aborted when the last clone of the store is dropped.
pub(crate) struct Subscriber(JoinHandle<()>);

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn subscribe(client: &Client, channel: &str) -> redis::RedisResult<PubSubStream> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub.into_on_message())
}

/// Wakes every idle worker, and leaves a permit for one that is about to idle.
pub(crate) fn wake(notify: &Notify) {
    notify.notify_waiters();
    notify.notify_one();
}

/// Subscribes before returning, so that a job added after the store is open wakes this
/// process, then keeps the subscription in a task.
pub(crate) async fn start(client: Client, channel: String, notify: Arc<Notify>) -> Subscriber {
    let first = match subscribe(&client, &channel).await {
        Ok(stream) => Some(stream),
        Err(e) => {
            warn!("Could not subscribe to {channel} yet: {e}; idle workers poll meanwhile");
            None
        }
    };
    Subscriber(tokio::spawn(listen(client, channel, notify, first)))
}

/// Wakes workers on every message; resubscribes with backoff when the connection breaks
/// (waking the workers once back, since messages may have been missed).
async fn listen(client: Client, channel: String, notify: Arc<Notify>, first: Option<PubSubStream>) {
    const MIN_BACKOFF: Duration = Duration::from_millis(100);
    const MAX_BACKOFF: Duration = Duration::from_secs(30);
    let mut backoff = MIN_BACKOFF;
    let mut next = first;
    loop {
        let mut stream = match next.take() {
            Some(stream) => stream,
            None => match subscribe(&client, &channel).await {
                Ok(stream) => {
                    wake(&notify);
                    stream
                }
                Err(e) => {
                    warn!("Could not subscribe to {channel}: {e}; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        while stream.next().await.is_some() {
            backoff = MIN_BACKOFF;
            wake(&notify);
        }
        warn!("The subscription to {channel} ended; resubscribing");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
