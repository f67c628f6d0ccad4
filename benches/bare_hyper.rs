//! The ceiling for hyper on this machine: a bare server that answers every
//! request with one fixed body of the size of a campaign, using the same
//! server settings as the gateway's `src/server.rs` (hyper-util auto builder,
//! HTTP/1.1 header-read timeout and buffer cap, h2c settings, first-byte peek,
//! graceful-shutdown watcher, multi-thread tokio runtime). No routing, no
//! cache, no metrics, no logging: what is left is what hyper itself costs.
//!
//! `cargo run --release --example bare-hyper -- --listen 127.0.0.1:0`
//! Prints `listening on ADDR` once bound; stops on SIGTERM or SIGINT.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use altur_gateway::server::HEADER_READ_TIMEOUT;

#[derive(Parser)]
struct Args {
    /// Loopback address to bind (port 0 for any).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// The body is the simulator's body for this campaign id (about 1.5 KB).
    #[arg(long, default_value_t = 50)]
    body_id: i64,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(args))
}

async fn serve(args: Args) -> std::io::Result<()> {
    let body = Bytes::from(altur_gateway::sim::campaign_body(args.body_id));
    let listener = TcpListener::bind(args.listen).await?;
    println!(
        "listening on {} (body {} bytes)",
        listener.local_addr()?,
        body.len()
    );

    // Exactly the gateway's connection settings.
    let builder = Arc::new(altur_gateway::server::connection_builder());
    let graceful = GracefulShutdown::new();
    let shutdown = altur_gateway::server::shutdown_signal();
    tokio::pin!(shutdown);

    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let builder = Arc::clone(&builder);
        let body = body.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let mut first = [0u8; 1];
            match tokio::time::timeout(HEADER_READ_TIMEOUT, stream.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let service = service_fn(move |_req| {
                let mut resp = Response::new(Full::new(body.clone()));
                resp.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                async move { Ok::<_, Infallible>(resp) }
            });
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let _ = watcher.watch(conn.into_owned()).await;
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(5)) => {}
    }
    Ok(())
}
