//! The OTLP/HTTP span export (`telemetry.otlp_endpoint`): opentelemetry_sdk's
//! batch processor, opentelemetry-otlp's protobuf encoding, and an HTTP
//! client of our own on hyper-util and rustls, the stack the gateway already
//! has (no tonic, no reqwest).
//!
//! The batch processor exports from a thread of its own, outside any tokio
//! runtime, so the client runs its requests on a one-thread runtime of its
//! own: export never competes with request handling on the gateway's
//! runtime, and works before that runtime exists and after it has stopped
//! (the final flush at exit).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::Registry;

/// One export request (connect included) must be done within this; it also
/// bounds the final flush at exit.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);
/// A collector's answer is a few bytes; more is not read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The running export.
pub(super) struct Export {
    provider: SdkTracerProvider,
    endpoint: String,
}

impl Export {
    /// Starts exporting to `<endpoint>/v1/traces` (the endpoint is validated
    /// by the configuration: an http(s) URL without a trailing slash).
    pub(super) fn start(endpoint: &str) -> Result<Export, String> {
        let traces = format!("{endpoint}/v1/traces");
        let client = ExportClient::new().map_err(|e| format!("cannot start its client: {e}"))?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(traces.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        let resource = Resource::builder()
            .with_service_name("altur-gateway")
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        // Batched: spans are queued in memory (bounded, 2048 by default;
        // OTEL_BSP_* tune it) and sent every few seconds, never on the
        // request's path. The default sampler follows the caller's
        // `sampled` flag and samples every new trace.
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        Ok(Export {
            provider,
            endpoint: traces,
        })
    }

    pub(super) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The tracing layer that turns our spans into OpenTelemetry spans.
    pub(super) fn layer(&self) -> OpenTelemetryLayer<Registry, SdkTracer> {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("altur-gateway"))
            // Attributes an operator asked for, not the crate's bookkeeping
            // (busy/idle time, thread, source location): cheaper, too.
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_location(false)
            .with_target(false)
            .with_level(false)
    }

    /// Flushes what is buffered and stops the export (bounded by the timeout).
    pub(super) fn shutdown(self) {
        if let Err(e) = self.provider.shutdown_with_timeout(EXPORT_TIMEOUT * 2) {
            eprintln!("altur-gateway: trace export did not flush: {e}");
        }
    }
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// The exporter's HTTP client: hyper-util's pooled client over rustls,
/// driven by its own one-thread runtime.
struct ExportClient {
    client: Client<Connector, Full<Bytes>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for ExportClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportClient").finish_non_exhaustive()
    }
}

impl ExportClient {
    fn new() -> std::io::Result<ExportClient> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(EXPORT_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(ExportClient {
            client,
            runtime: Some(runtime),
        })
    }
}

impl Drop for ExportClient {
    fn drop(&mut self) {
        // Whatever thread drops the exporter, never block it on the runtime.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl HttpClient for ExportClient {
    // `#[async_trait]`'s signature, written out: one boxed future per export batch.
    fn send_bytes<'life0, 'async_trait>(
        &'life0 self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let client = self.client.clone();
        let task = self.runtime.as_ref().map(|rt| {
            rt.spawn(async move {
                let exchange = async {
                    let (parts, body) = request.into_parts();
                    let resp = client
                        .request(Request::from_parts(parts, Full::new(body)))
                        .await?;
                    let (parts, body) = resp.into_parts();
                    let body = Limited::new(body, MAX_RESPONSE_BYTES)
                        .collect()
                        .await?
                        .to_bytes();
                    Ok::<_, HttpError>(Response::from_parts(parts, body))
                };
                match tokio::time::timeout(EXPORT_TIMEOUT, exchange).await {
                    Ok(r) => r,
                    Err(_) => Err("the OTLP collector did not answer in time".into()),
                }
            })
        });
        Box::pin(async move {
            match task {
                Some(task) => task.await.map_err(|e| Box::new(e) as HttpError)?,
                None => Err("the export client has stopped".into()),
            }
        })
    }
}
