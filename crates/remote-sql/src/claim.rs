//! Claims, written once for both ways a dialect takes rows: one `UPDATE … RETURNING`, or, in
//! one transaction, a locking read (`FOR UPDATE SKIP LOCKED`) then an `UPDATE` of the rows read
//! (run again when it loses a deadlock: the read still waits for the row behind an index entry
//! that a concurrent batch holds).

use std::cmp::Reverse;

use chrono::{DateTime, Utc};
use remote_core::Result;

use crate::dialect::Claims;
use crate::engine::{Args, Param};
use crate::queries::Q;
use crate::row::Columns;
use crate::store::{again_after_deadlocks, with, Inner};

/// What a claim takes: jobs or scheduler items.
pub(crate) trait Claimable: Sized + Send {
    /// The claim as one `UPDATE … RETURNING`, the locking read, and the `UPDATE` of the rows
    /// the locking read returned (`:ids`).
    const STATEMENTS: [Q; 3];
    /// Reads a row back.
    const DECODE: fn(&dyn Columns) -> Result<Self>;
    /// The row's place in the order claims hand rows out in.
    const PLACE: fn(&Self) -> Place<'_>;
}

/// A row's place in the order claims hand rows out in: highest priority first, then a time,
/// then its id.
pub(crate) type Place<'a> = (Reverse<i16>, Option<DateTime<Utc>>, &'a str);

impl Inner {
    /// Claims the rows the claim statements select with `args`, in their order; `claimed`
    /// writes on a row read before its update what the update wrote.
    pub(crate) async fn claim<T: Claimable>(
        &self,
        args: Args<'_>,
        claimed: impl Fn(&mut T) + Send,
    ) -> Result<Vec<T>> {
        let [returning, pick, claim_picked] = T::STATEMENTS;
        let decode = |rows: Vec<crate::engine::Row>| -> Result<Vec<T>> {
            rows.iter().map(|r| (T::DECODE)(r.as_ref())).collect()
        };
        match self.engine.dialect().claims {
            Claims::Returning => {
                // RETURNING gives the rows in no particular order.
                let mut rows = decode(self.rows(returning, &args).await?)?;
                rows.sort_by(|a, b| (T::PLACE)(a).cmp(&(T::PLACE)(b)));
                Ok(rows)
            }
            Claims::LockThenUpdate => {
                let mut picked = again_after_deadlocks(|| async {
                    let mut tx = self.begin().await?;
                    let picked = decode(tx.rows(pick, &args).await?)?;
                    if !picked.is_empty() {
                        let ids =
                            Param::Texts(picked.iter().map(|row| (T::PLACE)(row).2).collect());
                        tx.run(claim_picked, &with(args.clone(), [("ids", ids)]))
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(picked)
                })
                .await?;
                picked.iter_mut().for_each(claimed);
                Ok(picked)
            }
        }
    }
}
