//! The Lua scripts, one file each under `src/lua/`, every one prefixed with `common.lua` (the
//! key layout and the index moves they share). Each state change is one script call: Redis
//! runs a script alone, so its reads and writes are one atomic step.

use std::sync::LazyLock;

use redis::Script;

/// Every script of the store, hashed once per process and sent as `EVALSHA` (loaded on the
/// server's first `NOSCRIPT`).
pub(crate) struct Scripts {
    pub open: Script,
    pub upgrade_1: Script,
    pub upgrade_2: Script,
    pub upgrade_3: Script,
    pub upgrade_4: Script,
    pub insert_jobs: Script,
    pub claim_jobs: Script,
    pub end_attempts: Script,
    pub release_jobs: Script,
    pub renew_leases: Script,
    pub expired_leases: Script,
    pub cancel_job: Script,
    pub get_job: Script,
    pub job_errors: Script,
    pub list_jobs: Script,
    pub count_jobs: Script,
    pub remove_jobs: Script,
    pub retry_jobs: Script,
    pub pause_names: Script,
    pub paused_names: Script,
    pub acquire_leader: Script,
    pub leaders: Script,
    pub clear: Script,
    pub put_item: Script,
    pub delete_item: Script,
    pub get_item: Script,
    pub list_items: Script,
    pub claim_items: Script,
    pub take_items: Script,
}

const COMMON: &str = include_str!("lua/common.lua");

fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}{body}"))
}

/// The scripts, built on first use.
pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    open: script(include_str!("lua/open.lua")),
    upgrade_1: script(include_str!("lua/upgrade_1.lua")),
    upgrade_2: script(include_str!("lua/upgrade_2.lua")),
    upgrade_3: script(include_str!("lua/upgrade_3.lua")),
    upgrade_4: script(include_str!("lua/upgrade_4.lua")),
    insert_jobs: script(include_str!("lua/insert_jobs.lua")),
    claim_jobs: script(include_str!("lua/claim_jobs.lua")),
    end_attempts: script(include_str!("lua/end_attempts.lua")),
    release_jobs: script(include_str!("lua/release_jobs.lua")),
    renew_leases: script(include_str!("lua/renew_leases.lua")),
    expired_leases: script(include_str!("lua/expired_leases.lua")),
    cancel_job: script(include_str!("lua/cancel_job.lua")),
    get_job: script(include_str!("lua/get_job.lua")),
    job_errors: script(include_str!("lua/job_errors.lua")),
    list_jobs: script(include_str!("lua/list_jobs.lua")),
    count_jobs: script(include_str!("lua/count_jobs.lua")),
    remove_jobs: script(include_str!("lua/remove_jobs.lua")),
    retry_jobs: script(include_str!("lua/retry_jobs.lua")),
    pause_names: script(include_str!("lua/pause_names.lua")),
    paused_names: script(include_str!("lua/paused_names.lua")),
    acquire_leader: script(include_str!("lua/acquire_leader.lua")),
    leaders: script(include_str!("lua/leaders.lua")),
    clear: script(include_str!("lua/clear.lua")),
    put_item: script(include_str!("lua/put_item.lua")),
    delete_item: script(include_str!("lua/delete_item.lua")),
    get_item: script(include_str!("lua/get_item.lua")),
    list_items: script(include_str!("lua/list_items.lua")),
    claim_items: script(include_str!("lua/claim_items.lua")),
    take_items: script(include_str!("lua/take_items.lua")),
});
