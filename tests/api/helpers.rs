//! The test harness: the real gateway on an ephemeral loopback port, in front
//! of the in-process simulated Altur API, which records what it received.

use std::net::SocketAddr;
use std::sync::{Arc, Once};
use std::time::Duration;

use altur_gateway::config::Settings;
use altur_gateway::secret::ApiKey;
use altur_gateway::sim::{Recorded, SimConfig, Simulator};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const KEY: &str = "test-secret-key-3f9a";

static LOG: Once = Once::new();

/// Logs only when `TEST_LOG` is set.
fn init_logs() {
    LOG.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            altur_gateway::telemetry::init(altur_gateway::config::LogFormat::Text);
        }
    });
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// The upstream; several gateways of a fleet may share one.
    pub sim: Arc<Simulator>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    client: Client<HttpConnector, Full<Bytes>>,
    /// The callers file, and the directory removed with the app.
    callers_file: Option<(TempDir, std::path::PathBuf)>,
    /// The webhook secret's file, likewise.
    webhook_file: Option<(TempDir, std::path::PathBuf)>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("json body")
    }

    /// The `error.code` of a gateway error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub struct Builder {
    sim: SimConfig,
    /// The callers file's contents, written to a temporary file.
    callers: Option<String>,
    /// The webhook secret (base64), written to a temporary file.
    webhook_secret: Option<String>,
    /// An already running simulator to use instead of starting one.
    shared_sim: Option<Arc<Simulator>>,
    env: Vec<(String, String)>,
    key_file: Option<std::path::PathBuf>,
}

impl Builder {
    pub fn sim_latency(mut self, d: Duration) -> Self {
        self.sim.latency = d;
        self
    }

    /// Read the key from this file (as `upstream.api_key_file`) instead of a fixed key.
    pub fn key_file(mut self, path: &std::path::Path) -> Self {
        self.key_file = Some(path.to_path_buf());
        self
    }

    /// Puts this gateway in front of an existing simulator (a fleet of
    /// gateways in front of one upstream, which records every arrival).
    pub fn sim(mut self, sim: Arc<Simulator>) -> Self {
        self.shared_sim = Some(sim);
        self
    }

    /// A setting as its `ALTUR_GATEWAY__...` variable would give it, e.g. `("cache.ttl_seconds", "1")`.
    pub fn set(mut self, key: &str, value: &str) -> Self {
        let var = format!("ALTUR_GATEWAY__{}", key.replace('.', "__").to_uppercase());
        self.env.push((var, value.to_string()));
        self
    }

    /// Serves with this callers file (TOML, see [`caller`]).
    pub fn callers(mut self, toml: &str) -> Self {
        self.callers = Some(toml.to_string());
        self
    }

    /// Enables `POST /webhooks/altur` with this secret (base64).
    pub fn webhook_secret(mut self, b64: &str) -> Self {
        self.webhook_secret = Some(b64.to_string());
        self
    }

    pub async fn start(mut self) -> TestApp {
        init_logs();
        let callers_file = self.callers.take().map(|toml| {
            let dir = TempDir::new("callers");
            let path = dir.path().join("callers.toml");
            std::fs::write(&path, toml).expect("write callers file");
            (dir, path)
        });
        if let Some((_, path)) = &callers_file {
            self = self.set("callers.file", &path.display().to_string());
        }
        let webhook_file = self.webhook_secret.take().map(|b64| {
            let dir = TempDir::new("webhook");
            let path = dir.path().join("webhook-secret");
            std::fs::write(&path, b64).expect("write webhook secret");
            (dir, path)
        });
        if let Some((_, path)) = &webhook_file {
            self = self.set("webhook.secret_file", &path.display().to_string());
        }
        let sim = match self.shared_sim {
            Some(sim) => sim,
            None => Arc::new(Simulator::start(self.sim).await.expect("sim starts")),
        };
        let mut env = vec![
            (
                "ALTUR_GATEWAY__LISTEN".to_string(),
                "127.0.0.1:0".to_string(),
            ),
            (
                "ALTUR_GATEWAY__UPSTREAM__BASE_URL".to_string(),
                sim.base_url(),
            ),
        ];
        env.extend(self.env);
        let settings = Settings::load_from(None, env).expect("valid settings");
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let key = Arc::new(match &self.key_file {
            Some(path) => ApiKey::load(None, Some(path)).expect("key file"),
            None => ApiKey::fixed(KEY).expect("key"),
        });
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            altur_gateway::run(listener, settings, key, shutdown)
                .await
                .expect("gateway runs");
        });
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .build_http();
        TestApp {
            addr,
            sim,
            shutdown: Some(tx),
            server: Some(server),
            client,
            callers_file,
            webhook_file,
        }
    }
}

impl TestApp {
    pub fn builder() -> Builder {
        Builder {
            sim: SimConfig {
                key: KEY.into(),
                latency: Duration::ZERO,
                rate_limit: Some(12),
            },
            shared_sim: None,
            env: Vec::new(),
            key_file: None,
            callers: None,
            webhook_secret: None,
        }
    }

    pub async fn spawn() -> TestApp {
        Self::builder().start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, &[]).await
    }

    pub async fn request(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.send(method, path, headers, "").await
    }

    /// A request with a body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("request");
        send(&self.client, req).await
    }

    /// A JSON write as the caller holding `token`, with extra headers.
    pub async fn write_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> Resp {
        let bearer = format!("Bearer {token}");
        let mut headers = vec![
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ];
        headers.extend_from_slice(extra);
        self.send(method, path, &headers, body).await
    }

    /// GET as the caller holding `token`.
    pub async fn get_as(&self, token: &str, path: &str) -> Resp {
        let bearer = format!("Bearer {token}");
        self.request(Method::GET, path, &[("authorization", &bearer)])
            .await
    }

    /// The webhook secret file this app serves with.
    pub fn webhook_path(&self) -> &std::path::Path {
        &self
            .webhook_file
            .as_ref()
            .expect("started with a webhook secret")
            .1
    }

    /// The callers file this app serves with.
    pub fn callers_path(&self) -> &std::path::Path {
        &self.callers_file.as_ref().expect("started with callers").1
    }

    pub fn client(&self) -> &Client<HttpConnector, Full<Bytes>> {
        &self.client
    }

    /// Campaign requests the simulator received.
    pub fn upstream(&self) -> Vec<Recorded> {
        self.sim.requests()
    }

    /// Stops the gateway and waits for it to drain.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(35), server)
                .await
                .expect("drains in time")
                .expect("server task");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

pub async fn send(client: &Client<HttpConnector, Full<Bytes>>, req: Request<Full<Bytes>>) -> Resp {
    let resp = client.request(req).await.expect("gateway answers");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Resp {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// The largest number of arrivals in any window `[t, t + window)`.
pub fn max_in_window(arrivals: &[tokio::time::Instant], window: Duration) -> usize {
    let mut at: Vec<_> = arrivals.to_vec();
    at.sort();
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..at.len() {
        while at[hi] - at[lo] >= window {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

/// One `[[caller]]` entry of a callers file, with the token's SHA-256.
pub fn caller(name: &str, token: &str, scopes: &[&str], weight: u32, rps: Option<u32>) -> String {
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let scopes: Vec<String> = scopes.iter().map(|s| format!("{s:?}")).collect();
    let mut entry = format!(
        "[[caller]]\nname = {name:?}\ntoken_sha256 = \"{hash}\"\nscopes = [{}]\nweight = {weight}\n",
        scopes.join(", ")
    );
    if let Some(rps) = rps {
        entry.push_str(&format!("requests_per_second = {rps}\n"));
    }
    entry
}

/// A temporary directory, removed when dropped (even when a test panics).
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "altur-test-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
