//! The ceiling for hyper on this machine: a bare server that answers every
//! request with one fixed body of the size of a campaign, through the
//! gateway's own accept loop (`server::serve_with`: hyper-util auto builder,
//! buffer cap, h2c settings, the per-connection watchdog of the `server.*`
//! limits at their defaults, graceful shutdown) on a multi-thread tokio runtime. No routing, no
//! cache, no metrics, no logging: what is left is what hyper itself costs.
//!
//! `cargo run --release --example bare-hyper -- --listen 127.0.0.1:0`
//! Prints `listening on ADDR` once bound; stops on SIGTERM or SIGINT.

use bytes::Bytes;
use clap::Parser;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response};
use http_body_util::Full;
use tokio::net::TcpListener;

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

    // The gateway's own accept loop and connection settings; only the
    // handler differs.
    altur_gateway::server::serve_with(
        listener,
        move |_req, _peer| {
            let mut resp = Response::new(Full::new(body.clone()));
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
