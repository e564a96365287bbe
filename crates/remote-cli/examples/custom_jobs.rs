//! Your own `remote` binary: the whole command line (serve, worker, scheduler, add, jobs, …)
//! with your job kinds next to the built-in ones.
//!
//! ```sh
//! cargo run -p remote-cli --example custom_jobs -- serve
//! cargo run -p remote-cli --example custom_jobs -- add greet '{"name": "Ada"}' --wait
//! ```

use std::time::Duration;

use remote_core::{typed_fn, JobContext, JobError, JobFactory};
use serde::Deserialize;

#[derive(Deserialize)]
struct Greet {
    name: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let greet = JobFactory::new(
        "greet",
        typed_fn(|input: Greet, _ctx: JobContext| async move {
            if input.name.is_empty() {
                return Err(JobError::permanent("a name is required"));
            }
            Ok(format!("Hello, {}!", input.name))
        }),
    )
    .max_attempts(5)
    .retry_delay(Duration::from_secs(30));

    remote_cli::App::new().register(greet).run().await
}
