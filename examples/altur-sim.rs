//! The simulated Altur API on its own (every route, reads and writes), for
//! benchmarks and local experiments:
//! `cargo run --release --example altur-sim -- --listen 127.0.0.1:9000 --key k`.
//! Prints `listening on ADDR` once bound; stops on SIGTERM or SIGINT.

use std::time::Duration;

use altur_gateway::sim::{SimConfig, Simulator};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Loopback address to bind (port 0 for any).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// The API key it accepts.
    #[arg(long, default_value = "sim-key")]
    key: String,
    /// Latency added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Requests accepted per sliding second (0: unlimited).
    #[arg(long, default_value_t = 12)]
    rate_limit: u32,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let sim = Simulator::start_on(
        listener,
        SimConfig {
            key: args.key,
            latency: Duration::from_millis(args.latency_ms),
            rate_limit: (args.rate_limit > 0).then_some(args.rate_limit),
        },
    )?;
    println!("listening on {}", sim.addr());
    altur_gateway::server::shutdown_signal().await;
    Ok(())
}
