//! The ceiling for hyper on this machine: a bare server that answers every
//! request with one fixed body of the size of a campaign, through the
//! gateway's own accept loop (`server::serve_with`: hyper-util auto builder,
//! buffer cap, h2c settings, the per-connection watchdog of the `server.*`
//! limits at their defaults, graceful shutdown) on a multi-thread tokio runtime. No routing, no
//! cache, no metrics, no logging: what is left is what hyper itself costs.
//! Same allocator as the gateway binary (jemalloc by default).
//!
//! `cargo run --release --example bare-hyper -- --listen 127.0.0.1:0`
//! Prints `listening on ADDR` once bound; stops on SIGTERM or SIGINT.

use bytes::Bytes;
use clap::Parser;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response};
use http_body_util::Full;
use tokio::net::TcpListener;

/// The gateway's allocator (its default feature), so that the ceiling
/// differs from the gateway by the gateway's own work only.
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
struct Args {
    /// Loopback address to bind (port 0 for any).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// The body is the simulator's body for this campaign id (about 1.5 KB).
    #[arg(long, default_value_t = 50)]
    body_id: i64,
    /// Served instead for a path with `/contacts` in it (a contact list page,
    /// as the simulator answers it), so the list route's ceiling has the
    /// list's body size.
    #[arg(long)]
    list_body_file: Option<std::path::PathBuf>,
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
    let list_body = match &args.list_body_file {
        Some(path) => Bytes::from(std::fs::read(path)?),
        None => body.clone(),
    };
    let listener = TcpListener::bind(args.listen).await?;
    println!(
        "listening on {} (body {} bytes, list body {} bytes)",
        listener.local_addr()?,
        body.len(),
        list_body.len()
    );

    // The gateway's own accept loop and connection settings; only the
    // handler differs.
    altur_gateway::server::serve_with(
        listener,
        move |req: http::Request<hyper::body::Incoming>, _peer| {
            // One substring test: about what a router's first match costs.
            let b = if req.uri().path().contains("/contacts") {
                list_body.clone()
            } else {
                body.clone()
            };
            let mut resp = Response::new(Full::new(b));
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            std::future::ready(resp)
        },
        altur_gateway::server::Limits::default(),
        altur_gateway::server::shutdown_signal(),
        || {},
    )
    .await?;
    Ok(())
}
