//! Running the real `altur-gateway` binary as operators do: a clean
//! environment, output drained as it comes (a full pipe would stall the
//! process), signals, and a kill on drop so no process outlives its test.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_altur-gateway");

/// The binary with an empty environment but `PATH`, its output piped.
pub fn gateway() -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs to the end: exit code, stdout, stderr.
pub fn output(c: &mut Command) -> (i32, String, String) {
    let out = c.output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A started gateway process; killed on drop if the test did not stop it.
pub struct Child {
    child: std::process::Child,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
}

/// Copies a pipe into a buffer until it closes, on its own thread.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    if let Some(mut pipe) = pipe {
        let sink = Arc::clone(&buf);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("buffer").extend_from_slice(&chunk[..n]);
            }
        });
    }
    buf
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Child {
    pub fn spawn(c: &mut Command) -> Child {
        let mut child = c.spawn().expect("starts");
        let out = drain(child.stdout.take());
        let err = drain(child.stderr.take());
        Child { child, out, err }
    }

    /// Sends a signal by name (`TERM`, `HUP`, ...) with kill(1).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(ok.success(), "kill -{name}");
    }

    pub fn sigterm(&self) {
        self.signal("TERM");
    }

    /// The exit code if the process has ended.
    pub fn exited(&mut self) -> Option<i32> {
        self.child
            .try_wait()
            .expect("wait")
            .map(|s| s.code().unwrap_or(-1))
    }

    /// Standard output so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().expect("buffer")).into_owned()
    }

    /// Waits for exit (bounded) and returns code, stdout, stderr.
    pub fn finish(mut self, within: Duration) -> (i32, String, String) {
        let deadline = std::time::Instant::now() + within;
        let code = loop {
            if let Some(code) = self.exited() {
                break code;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "did not exit in {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The pipes close with the process; give the drain threads a moment.
        std::thread::sleep(Duration::from_millis(50));
        let err = String::from_utf8_lossy(&self.err.lock().expect("buffer")).into_owned();
        (code, self.stdout(), err)
    }
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

pub async fn wait_until_serving(port: u16) {
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("gateway did not start listening on {port}");
}

/// GET on the gateway at `port`: status and body.
pub async fn get(port: u16, path: &str) -> (u16, String) {
    get_with(port, path, &[]).await
}

/// GET with headers: status and body.
pub async fn get_with(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let mut req = http::Request::get(format!("http://127.0.0.1:{port}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let resp = client.request(req).await.expect("answer");
    let status = resp.status().as_u16();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The JSON log lines of `out`; panics on a line that is not JSON.
pub fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}
