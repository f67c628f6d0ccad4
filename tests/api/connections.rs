//! Connection limits (`server.*`): one-byte floods past the open-file limit,
//! head and idle timeouts for HTTP/1.1 and HTTP/2, clients that never read,
//! and eviction at `max_connections`. Loopback only; every loop is bounded in
//! count and time; every process started here is killed by the test.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::helpers::TestApp;

const BIN: &str = env!("CARGO_BIN_EXE_altur-gateway");

/// The gateway binary with at most `nofile` open files, set for the child
/// only by the shell's `ulimit`.
fn gateway_with_nofile(nofile: u32, port: u16, env: &[(&str, &str)]) -> Child {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\""))
        .arg(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ALTUR_API_KEY", "conn-test-key")
        .env("ALTUR_GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
        // Never reached: /healthz is answered by the gateway itself.
        .env(
            "ALTUR_GATEWAY__UPSTREAM__BASE_URL",
            "http://127.0.0.1:9/api/v1.0",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    Child(c.spawn().expect("starts"))
}

/// A started gateway process; killed on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Child {
    /// Kills the process and returns what it logged.
    fn kill_and_logs(mut self) -> String {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let mut logs = String::new();
        if let Some(mut s) = self.0.stdout.take() {
            let _ = s.read_to_string(&mut logs);
        }
        if let Some(mut s) = self.0.stderr.take() {
            let _ = s.read_to_string(&mut logs);
        }
        logs
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn wait_until_healthy(port: u16) {
    for _ in 0..500 {
        if healthz(port, Duration::from_secs(1)).await.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("gateway did not start serving on {port}");
}

/// `GET /healthz` on a new connection: how long the 200 took, or `None`.
async fn healthz(port: u16, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let attempt = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await.ok()?;
        answer
            .starts_with(b"HTTP/1.1 200")
            .then(|| started.elapsed())
    };
    timeout(within, attempt).await.ok().flatten()
}

/// Waits (at most `within`) for the server to close `s`, discarding
/// anything it sends; how long that took, or `None` if it stayed open.
async fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

/// A connection, or a failed test within 5 s (a full accept backlog makes
/// connect hang for minutes).
async fn connect(addr: impl tokio::net::ToSocketAddrs) -> TcpStream {
    timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// One `P`: the first byte of the HTTP/2 preface, and nothing more.
async fn one_byte(port: u16) -> TcpStream {
    let mut s = connect(("127.0.0.1", port)).await;
    s.write_all(b"P").await.expect("write");
    s
}

/// Reads one HTTP/1.1 response with a Content-Length; returns its status line.
async fn read_response(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 16 * 1024, "head too long");
        let n = s.read(&mut byte).await.expect("read head");
        assert_eq!(n, 1, "closed in the head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .expect("content-length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.expect("body");
    head.lines().next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_byte_flood_past_the_open_file_limit_does_not_stop_healthz() {
    // 128 descriptors: max_connections is derived as 64. The head timeout
    // stays at its default (10 s), so only eviction can save /healthz.
    let port = free_port();
    let child = gateway_with_nofile(128, port, &[]);
    wait_until_healthy(port).await;

    let mut flood = Vec::new();
    for _ in 0..300 {
        flood.push(one_byte(port).await);
    }
    let mut took = Vec::new();
    for _ in 0..3 {
        let t = healthz(port, Duration::from_secs(5))
            .await
            .expect("/healthz answers under the flood");
        took.push(t);
    }
    eprintln!("/healthz under a 300-connection one-byte flood (nofile 128): {took:?}");
    assert!(took.iter().all(|t| *t < Duration::from_secs(1)), "{took:?}");
    // The oldest were closed to make room; the newest are still held.
    let first = flood.first_mut().expect("flood");
    assert!(
        closed_within(first, Duration::from_secs(1)).await.is_some(),
        "the oldest one-byte connection was evicted"
    );
    let last = flood.last_mut().expect("flood");
    assert!(
        closed_within(last, Duration::from_millis(300))
            .await
            .is_none(),
        "a recent one is still within its head timeout"
    );
    drop(flood);
    let logs = child.kill_and_logs();
    assert!(
        !logs.contains("accept failed"),
        "the limit kept accept from failing: {logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_the_gateway_makes_room_without_spinning() {
    // max_connections set above what 128 descriptors allow: accept itself
    // fails (EMFILE), and the gateway must free a descriptor and back off.
    let port = free_port();
    let child = gateway_with_nofile(
        128,
        port,
        &[
            ("ALTUR_GATEWAY__SERVER__MAX_CONNECTIONS", "1000"),
            ("ALTUR_GATEWAY__SERVER__HEADER_TIMEOUT_MS", "500"),
        ],
    );
    wait_until_healthy(port).await;

    // A lone `P` is closed once the head timeout passes, not before.
    let mut lone = one_byte(port).await;
    let waited = closed_within(&mut lone, Duration::from_secs(5))
        .await
        .expect("a one-byte connection is closed");
    eprintln!("a one-byte connection was closed after {waited:?} (header_timeout_ms 500)");
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );

    let started = Instant::now();
    let mut flood = Vec::new();
    for _ in 0..300 {
        flood.push(one_byte(port).await);
    }
    let t = healthz(port, Duration::from_secs(5))
        .await
        .expect("/healthz answers with descriptors exhausted");
    eprintln!(
        "/healthz with descriptors exhausted: {t:?} (flood opened in {:?})",
        started.elapsed() - t
    );
    assert!(t < Duration::from_secs(2), "{t:?}");
    // Let the flood linger past a few log intervals' worth of retries.
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(flood);
    let logs = child.kill_and_logs();
    let lines = logs.matches("accept failed").count();
    eprintln!("\"accept failed\" logged {lines} times");
    assert!(
        lines <= 3,
        "accept errors are rate-limited: {lines}\n{logs}"
    );
}

#[tokio::test]
async fn an_h2_connection_that_only_answers_pings_is_closed_when_idle() {
    let app = TestApp::builder()
        .set("server.idle_timeout_ms", "1000")
        .start()
        .await;
    let tcp = connect(app.addr).await;
    let (mut send, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .timer(hyper_util::rt::TokioTimer::new())
            // The client pings the server every 100 ms and answers its pings.
            .keep_alive_interval(Duration::from_millis(100))
            .keep_alive_while_idle(true)
            .handshake::<_, http_body_util::Empty<bytes::Bytes>>(hyper_util::rt::TokioIo::new(tcp))
            .await
            .expect("h2 handshake");
    let conn = tokio::spawn(conn);

    let req = http::Request::builder()
        .uri(app.url("/healthz"))
        .body(http_body_util::Empty::new())
        .expect("request");
    let resp = send.send_request(req).await.expect("answer");
    assert_eq!(resp.status(), 200);
    let _ = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body");
    let idle_from = Instant::now();

    let ended = timeout(Duration::from_secs(5), conn).await;
    let waited = idle_from.elapsed();
    eprintln!("idle h2 connection (pinging) closed after {waited:?} (idle_timeout_ms 1000)");
    assert!(ended.is_ok(), "still connected after {waited:?}");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
}

#[tokio::test]
async fn an_idle_http1_connection_is_closed_and_a_later_head_is_timed_from_its_first_byte() {
    let app = TestApp::builder()
        .set("server.header_timeout_ms", "500")
        .set("server.idle_timeout_ms", "1500")
        .start()
        .await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

    // Idle: kept past the head timeout (a keep-alive connection is not a
    // slow head), closed at the idle timeout.
    let mut idle = connect(app.addr).await;
    idle.write_all(request).await.expect("write");
    assert_eq!(read_response(&mut idle).await, "HTTP/1.1 200 OK");
    let waited = closed_within(&mut idle, Duration::from_secs(5))
        .await
        .expect("closed when idle");
    eprintln!("idle HTTP/1.1 connection closed after {waited:?} (idle_timeout_ms 1500)");
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );

    // A second request's head, begun 300 ms into the idle time, must be
    // complete 500 ms after its first byte.
    let mut slow = connect(app.addr).await;
    slow.write_all(request).await.expect("write");
    assert_eq!(read_response(&mut slow).await, "HTTP/1.1 200 OK");
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .expect("write");
    let waited = closed_within(&mut slow, Duration::from_secs(5))
        .await
        .expect("a slow later head is dropped");
    eprintln!(
        "a later half-sent head was dropped {waited:?} after its first byte (header_timeout_ms 500)"
    );
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_millis(1200),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_client_that_never_reads_its_responses_is_dropped() {
    let app = TestApp::builder()
        .set("server.idle_timeout_ms", "1000")
        .start()
        .await;
    let path = "/api/v1.0/campaigns/1";
    assert_eq!(app.get(path).await.status, 200, "cached from now on");

    // A small receive window, and far more pipelined requests than the
    // socket buffers can hold the answers to (about 18 MB of responses).
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(app.addr).await.expect("connect");
    let started = Instant::now();
    let (reader, mut writer) = stream.into_split();
    let requests = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").repeat(10_000);
    let write_failed = Arc::new(AtomicBool::new(false));
    let failed = Arc::clone(&write_failed);
    let writing = tokio::spawn(async move {
        let written = timeout(
            Duration::from_secs(15),
            writer.write_all(requests.as_bytes()),
        )
        .await;
        if matches!(written, Ok(Err(_))) {
            failed.store(true, Ordering::SeqCst);
        }
    });

    // Never read: watch for the reset instead (an error on the socket, or
    // on the blocked write).
    let mut closed = None;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let reset = matches!(reader.as_ref().take_error(), Ok(Some(_)))
            || write_failed.load(Ordering::SeqCst);
        if reset {
            closed = Some(started.elapsed());
            break;
        }
    }
    let waited = closed.expect("a client that never reads is dropped");
    eprintln!("a client that never read was dropped after {waited:?} (idle_timeout_ms 1000)");
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_millis(3000),
        "{waited:?}"
    );
    writing.abort();
    // Others are still served.
    assert_eq!(app.get(path).await.status, 200);
}

#[tokio::test]
async fn at_max_connections_silent_ones_are_evicted_oldest_first() {
    let app = TestApp::builder()
        .set("server.max_connections", "6")
        .start()
        .await;
    // Six connections that never complete a request: three silent, three
    // with half a head.
    let mut held = Vec::new();
    for i in 0..6 {
        let mut s = connect(app.addr).await;
        if i >= 3 {
            s.write_all(b"GET /healthz HTTP/1.1\r\n")
                .await
                .expect("write");
        }
        held.push(s);
        // Accepted in this order.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A real request is served, and the oldest silent one made room for it.
    assert_eq!(app.get("/healthz").await.status, 200);
    assert!(
        closed_within(&mut held[0], Duration::from_secs(1))
            .await
            .is_some()
    );

    // Two more silent ones close the next two oldest, and only them.
    for _ in 0..2 {
        held.push(connect(app.addr).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (i, s) in held.iter_mut().enumerate().skip(1) {
        if i <= 2 {
            let closed = closed_within(s, Duration::from_secs(2)).await;
            assert!(closed.is_some(), "connection {i} was evicted");
        } else {
            let closed = closed_within(s, Duration::from_millis(200)).await;
            assert!(closed.is_none(), "connection {i} is still held");
        }
    }
    // The served (pooled) connection is still good.
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn at_max_connections_with_every_one_busy_a_new_one_is_closed_at_once() {
    let app = TestApp::builder()
        .sim_latency(Duration::from_millis(1500))
        .set("server.max_connections", "2")
        .start()
        .await;
    let busy: Vec<_> = (1..=2)
        .map(|id| {
            let client = app.client().clone();
            let url = app.url(&format!("/api/v1.0/campaigns/{id}"));
            tokio::spawn(async move {
                let resp = client.get(url.parse().expect("uri")).await.expect("answer");
                resp.status().as_u16()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut refused = connect(app.addr).await;
    let waited = closed_within(&mut refused, Duration::from_secs(1))
        .await
        .expect("closed at once");
    assert!(waited < Duration::from_millis(500), "{waited:?}");
    for b in busy {
        assert_eq!(b.await.expect("join"), 200, "requests in flight are kept");
    }
    assert_eq!(app.get("/healthz").await.status, 200);
}
