//! The CLI's job input (`remote add NAME INPUT`): any text is a usage error or JSON that an
//! echo job stores, runs and gives back unchanged, through the memory store.

#![no_main]

use libfuzzer_sys::fuzz_target;
use remote_core::{handler_fn, JobContext, JobError, JobFactory, JobStatus, Processor};
use remote_memory::MemoryStore;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text == "-" {
        return;
    }
    let input = match remote_cli::commands::jobs::parse_input(text) {
        Ok(input) => input,
        Err(e) => {
            assert_eq!(e.code, 2, "bad JSON is a usage error: {}", e.message);
            return;
        }
    };
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
    }
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let processor = Processor::new(MemoryStore::new());
            processor
                .register(JobFactory::new(
                    "echo",
                    handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
                ))
                .expect("register");
            let id = processor.add_job("echo", input.clone()).await.expect("add");
            assert_eq!(processor.get_job(&id).await.expect("get").input, input);
            assert!(processor.process_next_job().await.expect("process"));
            assert_eq!(
                processor.job_status(&id).await.expect("status"),
                JobStatus::Completed
            );
            assert_eq!(
                processor.job_result(&id).await.expect("result"),
                Some(input)
            );
        })
    });
});
