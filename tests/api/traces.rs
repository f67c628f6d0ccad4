//! Tracing: the caller's W3C `traceparent` becomes the access line's
//! `trace_id` and the parent of the exported request span, whose upstream
//! exchange is its child; spans reach an OTLP/HTTP receiver the test runs on
//! loopback; and no trace header ever reaches Altur.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use altur_gateway::sim::{SimConfig, Simulator};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::binary::{Child, free_port, gateway, get_with, json_lines, wait_until_serving};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
const HIT_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

/// A minimal OTLP/HTTP collector: `POST /v1/traces` with protobuf bodies,
/// every span kept; anything else is a 404.
struct Receiver {
    port: u16,
    spans: Arc<Mutex<Vec<Span>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&spans);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = Arc::clone(&kept);
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let kept = Arc::clone(&kept);
                    async move { Ok::<_, Infallible>(collect(req, &kept).await) }
                });
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { port, spans, task }
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().expect("spans").clone()
    }

    /// Waits (bounded) until `done` holds for the spans received.
    async fn until(&self, what: &str, done: impl Fn(&[Span]) -> bool) -> Vec<Span> {
        for _ in 0..150 {
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the receiver never got {what}: {:#?}", self.spans());
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn collect(req: Request<Incoming>, kept: &Mutex<Vec<Span>>) -> Response<Full<Bytes>> {
    let ok = req.method() == http::Method::POST
        && req.uri().path() == "/v1/traces"
        && req
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "application/x-protobuf");
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let (true, Ok(body)) = (ok, body) else {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = http::StatusCode::NOT_FOUND;
        return r;
    };
    let decoded = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body");
    let mut spans = kept.lock().expect("spans");
    for rs in decoded.resource_spans {
        for ss in rs.scope_spans {
            spans.extend(ss.spans);
        }
    }
    Response::new(Full::new(Bytes::new()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A span attribute as text (strings and integers).
fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Value::StringValue(s) => s.clone(),
            Value::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}

fn requests_of<'a>(spans: &'a [Span], trace: &str) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| hex(&s.trace_id) == trace && attr(s, "http.route").is_some())
        .filter(|s| s.kind == 2) // SPAN_KIND_SERVER
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_trace_reaches_the_access_line_and_the_collector_but_not_altur() {
    let receiver = Receiver::start().await;
    let sim = Simulator::start(SimConfig {
        key: "trace-key".into(),
        latency: Duration::from_millis(20),
        rate_limit: None,
    })
    .await
    .expect("sim");
    let port = free_port();
    let child = Child::spawn(
        gateway()
            .env("ALTUR_API_KEY", "trace-key")
            .env("ALTUR_GATEWAY__LOG__FORMAT", "json")
            .env("ALTUR_GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
            .env("ALTUR_GATEWAY__UPSTREAM__BASE_URL", sim.base_url())
            .env(
                "ALTUR_GATEWAY__TELEMETRY__OTLP_ENDPOINT",
                format!("http://127.0.0.1:{}", receiver.port),
            )
            // Batches every 100 ms rather than 5 s: a quicker test.
            .env("OTEL_BSP_SCHEDULE_DELAY", "100"),
    );
    wait_until_serving(port).await;

    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let miss = [
        ("traceparent", traceparent.as_str()),
        ("x-request-id", "tr-miss"),
    ];
    assert_eq!(get_with(port, "/api/v1.0/campaigns/3", &miss).await.0, 200);
    let hit_parent = format!("00-{HIT_TRACE}-b7ad6b7169203331-01");
    let hit = [
        ("traceparent", hit_parent.as_str()),
        ("x-request-id", "tr-hit"),
    ];
    assert_eq!(get_with(port, "/api/v1.0/campaigns/3", &hit).await.0, 200);
    // Invalid (upper-case hex): a new trace, not the caller's.
    let bad = format!("00-{}-{PARENT}-01", TRACE.to_uppercase());
    let fresh = [("traceparent", bad.as_str()), ("x-request-id", "tr-new")];
    assert_eq!(get_with(port, "/api/v1.0/campaigns/4", &fresh).await.0, 200);

    // The miss: a server span under the caller's span, an upstream child under it.
    let spans = receiver
        .until("the miss's request and upstream spans", |s| {
            let reqs = requests_of(s, TRACE);
            reqs.len() == 1
                && s.iter()
                    .any(|u| u.kind == 3 && u.parent_span_id == reqs[0].span_id)
        })
        .await;
    let request = requests_of(&spans, TRACE)[0];
    assert_eq!(
        hex(&request.parent_span_id),
        PARENT,
        "the caller's span is the parent"
    );
    assert_eq!(attr(request, "http.route").as_deref(), Some("campaign"));
    assert_eq!(attr(request, "altur.caller").as_deref(), Some("anonymous"));
    assert_eq!(attr(request, "altur.cache").as_deref(), Some("miss"));
    assert_eq!(
        attr(request, "http.response.status_code").as_deref(),
        Some("200")
    );
    let upstream = spans
        .iter()
        .find(|u| u.kind == 3 && u.parent_span_id == request.span_id)
        .expect("upstream span");
    assert_eq!(hex(&upstream.trace_id), TRACE);
    assert_eq!(attr(upstream, "url.path").as_deref(), Some("/campaigns/3"));
    assert_eq!(
        attr(upstream, "http.response.status_code").as_deref(),
        Some("200")
    );

    // The hit: its own trace, no upstream child.
    let spans = receiver
        .until("the hit's request span", |s| {
            requests_of(s, HIT_TRACE).len() == 1
        })
        .await;
    let hit_span = requests_of(&spans, HIT_TRACE)[0];
    assert_eq!(attr(hit_span, "altur.cache").as_deref(), Some("hit"));
    assert!(!spans.iter().any(|s| s.parent_span_id == hit_span.span_id));

    // The access lines carry the trace ids: the caller's, or the new trace's.
    let lines = tokio::task::spawn_blocking(move || child.finish_after_term())
        .await
        .expect("stopped");
    let access = |id: &str| {
        lines
            .iter()
            .find(|l| l["request_id"] == id)
            .unwrap_or_else(|| panic!("no access line {id}"))["trace_id"]
            .as_str()
            .expect("trace_id")
            .to_string()
    };
    assert_eq!(access("tr-miss"), TRACE);
    assert_eq!(access("tr-hit"), HIT_TRACE);
    let new_trace = access("tr-new");
    assert_eq!(new_trace.len(), 32);
    assert_ne!(new_trace, TRACE.to_lowercase());
    // The exporter flushed at exit: the new trace's span is the access line's.
    let spans = receiver.spans();
    let exported = requests_of(&spans, &new_trace);
    assert_eq!(
        exported.len(),
        1,
        "the new trace was exported under its logged id"
    );
    assert!(exported[0].parent_span_id.is_empty(), "a root span");

    // Altur never saw a trace header, nor anything else of the caller's.
    for r in sim.requests() {
        for name in ["traceparent", "tracestate", "x-request-id"] {
            assert!(!r.headers.contains_key(name), "{name} sent upstream: {r:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_export_the_access_line_still_has_the_callers_trace_id() {
    let sim = Simulator::start(SimConfig {
        key: "trace-key".into(),
        latency: Duration::ZERO,
        rate_limit: None,
    })
    .await
    .expect("sim");
    let port = free_port();
    let child = Child::spawn(
        gateway()
            .env("ALTUR_API_KEY", "trace-key")
            .env("ALTUR_GATEWAY__LOG__FORMAT", "json")
            .env("ALTUR_GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
            .env("ALTUR_GATEWAY__UPSTREAM__BASE_URL", sim.base_url()),
    );
    wait_until_serving(port).await;
    let traceparent = format!("00-{TRACE}-{PARENT}-00");
    let with = [
        ("traceparent", traceparent.as_str()),
        ("x-request-id", "with"),
    ];
    get_with(port, "/api/v1.0/campaigns/1", &with).await;
    get_with(
        port,
        "/api/v1.0/campaigns/1",
        &[("x-request-id", "without")],
    )
    .await;
    let lines = tokio::task::spawn_blocking(move || child.finish_after_term())
        .await
        .expect("stopped");
    let id = |rid: &str| {
        lines.iter().find(|l| l["request_id"] == rid).expect("line")["trace_id"]
            .as_str()
            .expect("trace_id")
            .to_string()
    };
    assert_eq!(id("with"), TRACE);
    let new = id("without");
    assert!(new.len() == 32 && new.bytes().all(|b| b.is_ascii_hexdigit()) && new != TRACE);
}

impl Child {
    /// SIGTERM, then the JSON lines it printed (bounded wait).
    fn finish_after_term(self) -> Vec<serde_json::Value> {
        self.sigterm();
        let (code, out, err) = self.finish(Duration::from_secs(40));
        assert_eq!(code, 0, "{err}");
        json_lines(&out)
    }
}
