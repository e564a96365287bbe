//! `rediss://` URLs. With the `tls` feature the store speaks TLS: its first byte is a
//! handshake record, and a store works through a TLS-enabled redis-server of this test's own,
//! whose certificate is signed by a CA made for the test and named by `SSL_CERT_FILE` (read
//! with the system's roots). Without the feature the URL is refused as invalid input.
//!
//! One test function, as `SSL_CERT_FILE` is set for the whole process before any thread runs.

#[cfg(feature = "tls")]
mod with_tls {
    use std::io::Read;
    use std::net::TcpListener;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use chrono::{TimeDelta, Utc};
    use remote_core::{ClaimJobs, InsertJobs, Job, JobStore, LeaseToken, OnConflict};
    use remote_redis::{RedisOptions, RedisStore};
    use serde_json::json;

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
    }

    fn run(dir: &Path, args: &[&str]) {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl must be installed for this test");
        assert!(status.success(), "openssl {args:?}");
    }

    /// A CA and a certificate it signed for 127.0.0.1, in `dir`.
    fn certificates(dir: &Path) {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        let mut ca = vec!["req", "-x509", "-nodes", "-days", "2"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=remote-redis test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run(dir, &ca);
        let mut csr = vec!["req", "-nodes"];
        csr.extend(ec);
        csr.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        run(dir, &csr);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n\
             keyUsage=critical,digitalSignature\n",
        )
        .expect("extensions file");
        run(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                "server.crt",
                "-extfile",
                "server.ext",
            ],
        );
    }

    /// A redis-server serving TLS only, killed and its directory removed on drop.
    struct Server {
        child: Child,
        port: u16,
        dir: PathBuf,
    }

    impl Server {
        fn start(dir: PathBuf) -> Self {
            let port = free_port();
            let child = Command::new("redis-server")
                .args(["--port", "0", "--tls-port", &port.to_string()])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args([
                    "--tls-cert-file",
                    "server.crt",
                    "--tls-key-file",
                    "server.key",
                ])
                .args(["--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "no"])
                .current_dir(&dir)
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server must be installed for this test");
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "redis-server with TLS did not come up (is it built with TLS?)"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Self { child, port, dir }
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn options() -> RedisOptions {
        RedisOptions {
            prefix: format!("remote-test-{:016x}", rand::random::<u64>()),
            connection_timeout: Duration::from_secs(5),
            ..RedisOptions::default()
        }
    }

    /// The first byte a `rediss://` store sends to a listener that does not answer.
    async fn first_byte() -> u8 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
        let port = listener.local_addr().expect("its address").port();
        let accepting = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("the store connects");
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("a timeout");
            let mut byte = [0u8; 1];
            socket.read_exact(&mut byte).expect("the store sends");
            // Closing the socket and the listener ends the store's attempts at once.
            drop(listener);
            byte[0]
        });
        let options = RedisOptions {
            connection_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            ..options()
        };
        let refused = RedisStore::connect_with(&format!("rediss://127.0.0.1:{port}/"), options)
            .await
            .expect_err("nothing answers");
        assert!(refused.is_store(), "{refused}");
        accepting.join().expect("the listener")
    }

    pub(crate) fn rediss_urls_connect_over_tls() {
        let dir = std::env::temp_dir().join(format!(
            "remote-redis-tls-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).expect("a directory");
        certificates(&dir);
        // Before any other thread of this process runs.
        std::env::set_var("SSL_CERT_FILE", dir.join("ca.crt"));
        let server = Server::start(dir);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            assert_eq!(first_byte().await, 0x16, "a TLS handshake record");

            let url = format!("rediss://127.0.0.1:{}/", server.port);
            let store = RedisStore::connect_with(&url, options())
                .await
                .expect("a store over TLS");
            let job = Job::queued(
                "echo",
                json!({"over": "tls"}),
                3,
                Duration::ZERO,
                Utc::now(),
            );
            store
                .insert_jobs(&InsertJobs {
                    jobs: std::slice::from_ref(&job),
                    on_conflict: OnConflict::Refuse,
                })
                .await
                .expect("insert over TLS");
            let now = Utc::now();
            let claimed = store
                .claim_jobs(&ClaimJobs {
                    names: &["echo".to_owned()],
                    now,
                    lease_until: now + TimeDelta::seconds(30),
                    token: LeaseToken::from_i64(1),
                    limit: 1,
                })
                .await
                .expect("claim over TLS");
            assert_eq!(claimed.len(), 1);
            assert_eq!(claimed[0].input, job.input);
            store.clear().await.expect("clear");
        });
    }
}

#[cfg(feature = "tls")]
#[test]
fn rediss_urls_connect_over_tls() {
    with_tls::rediss_urls_connect_over_tls();
}

/// Without the feature, a `rediss://` URL is invalid input naming it — unless another crate of
/// the same build turned on the client's TLS, when the handshake with the plain test server
/// fails as a store error.
#[cfg(not(feature = "tls"))]
#[tokio::test]
async fn rediss_urls_need_the_tls_feature() {
    let err = remote_redis::RedisStore::connect("rediss://127.0.0.1:6379/")
        .await
        .expect_err("no TLS without the feature");
    match &err {
        remote_core::Error::InvalidInput(message) => {
            assert!(message.contains("`tls` feature"), "{err}")
        }
        other => assert!(other.is_store(), "{err}"),
    }
}
