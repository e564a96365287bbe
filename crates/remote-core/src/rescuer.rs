//! The rescuer: ends the attempts whose worker was lost — their lease expired — as failed
//! attempts, so R3 decides between another attempt and `error` (R8). Attempts this processor
//! holds itself are left to its lease keeper.

use tracing::warn;

use crate::error::Result;
use crate::outcome::lost_worker;
use crate::shared::Shared;
use crate::store::{ExpiredLeases, Lease, Outcome};

/// Most expired leases read and rescued in one round.
const RESCUE_BATCH: usize = 100;

/// Rescues every expired lease now; returns how many attempts were ended.
pub(crate) async fn rescue_expired(shared: &Shared) -> Result<usize> {
    let mut rescued = 0;
    loop {
        let now = shared.now();
        let expired = shared
            .jobs
            .expired_leases(&ExpiredLeases {
                now,
                limit: RESCUE_BATCH,
            })
            .await?;
        let outcomes: Vec<Outcome> = expired
            .iter()
            .filter_map(|job| {
                let token = job.lease_token?;
                let lease = Lease {
                    id: job.id.clone(),
                    token,
                };
                (!shared.holds(&lease)).then(|| lost_worker(job, token, now))
            })
            .collect();
        let applied = if outcomes.is_empty() {
            Vec::new()
        } else {
            shared.jobs.rescue_jobs(&outcomes).await?
        };
        let mut this_round = 0;
        for (outcome, applied) in outcomes.iter().zip(applied) {
            if applied {
                warn!(job_id = %outcome.lease.id, "job recovered after its worker was lost");
                this_round += 1;
            }
        }
        rescued += this_round;
        if expired.len() < RESCUE_BATCH || this_round == 0 {
            return Ok(rescued);
        }
    }
}
