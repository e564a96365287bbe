//! The `remote` binary: the command line with the built-in job kinds.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    remote_cli::App::new().run().await
}
