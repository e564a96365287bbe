//! The lease keeper: renews the leases of every attempt a processor holds — running or
//! waiting in a worker's buffer — in batched calls, every third of the lease (R8, R24). A
//! renewal the store refuses means the attempt is no longer this processor's (cancelled or
//! recovered), so its handler is signalled.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::clock::add;
use crate::shared::Shared;
use crate::store::RenewLeases;

/// Most leases renewed in one call.
const RENEW_BATCH: usize = 1000;

/// Renews held leases every third of the lease until `stop`.
pub(crate) async fn keep(shared: &Shared, stop: CancellationToken) {
    let every = (shared.config.lease / 3).max(Duration::from_millis(10));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        renew_held(shared).await;
    }
}

/// Renews every held lease once; signals the attempts whose renewal was refused.
async fn renew_held(shared: &Shared) {
    let leases = shared.held_leases();
    if leases.is_empty() {
        return;
    }
    let lease_until = add(shared.now(), shared.config.lease);
    for chunk in leases.chunks(RENEW_BATCH) {
        let renew = RenewLeases {
            leases: chunk,
            lease_until,
        };
        match shared.jobs.renew_leases(&renew).await {
            Ok(answers) => {
                for (lease, renewed) in chunk.iter().zip(answers) {
                    if !renewed && shared.holds(lease) {
                        info!(job_id = %lease.id, "lease lost (cancelled or recovered); signalling its attempt");
                        shared.signal_lease(lease);
                    }
                }
            }
            Err(e) => warn!(error = %e, leases = chunk.len(), "lease renewal failed"),
        }
    }
}
