//! The `altur-gateway` binary: parse arguments, load and validate settings
//! (exit 2 before binding anything), then run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use altur_gateway::auth::file::CallersFile;
use altur_gateway::config::{ConfigError, Settings};
use altur_gateway::secret::{self, ApiKey, KeySource};
use altur_gateway::{StartError, server, telemetry};
use clap::{Parser, Subcommand};

/// jemalloc (the default feature) keeps RSS near what the cache holds as it
/// evicts; glibc's malloc keeps the memory of evicted entries (see README,
/// Configuration: `cache.max_bytes`). `--no-default-features` builds with
/// the system allocator, `--features mimalloc` with mimalloc.
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "altur-gateway",
    version,
    about = "Rate-limited, caching gateway to the Altur API"
)]
struct Cli {
    /// TOML configuration file (else ALTUR_GATEWAY_CONFIG, else defaults only).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the effective configuration (secret redacted); exit 2 if invalid.
    CheckConfig,
    /// Run in front of a built-in simulated Altur API: no key, no network.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let file = cli
        .config
        .or_else(|| std::env::var_os("ALTUR_GATEWAY_CONFIG").map(PathBuf::from));
    let settings = match Settings::load(file.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(&e.into()),
    };
    // Spans are exported only by a gateway that serves, never by check-config.
    let serving = !matches!(cli.command, Some(Command::CheckConfig));
    let endpoint = settings.otlp_endpoint.as_deref().filter(|_| serving);
    // Dropped at the end of main: flushes the spans still buffered.
    let _telemetry = telemetry::install(settings.log, endpoint);

    match cli.command {
        Some(Command::CheckConfig) => {
            match load_key(&settings).and_then(|k| Ok((k, altur_gateway::load_files(&settings)?))) {
                Ok((key, files)) => {
                    print!("{}", settings.to_toml());
                    let from = match key.source() {
                        KeySource::Env => secret::ENV_VAR.to_string(),
                        KeySource::File(p) => p.display().to_string(),
                        KeySource::Fixed => "demo".to_string(),
                    };
                    println!("\n# api key: [REDACTED] (from {from})");
                    print!("{}", describe_callers(&files.callers));
                    if let Some(path) = &settings.webhook_secret_file {
                        println!("# webhook secret: [REDACTED] (from {})", path.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Some(Command::Demo) => block_on(altur_gateway::demo::run(settings)),
        None => {
            let key = match load_key(&settings) {
                Ok(k) => Arc::new(k),
                Err(e) => return fail(&e),
            };
            // Before binding: a bad callers file or webhook secret stops
            // start-up with exit 2.
            let files = match altur_gateway::load_files(&settings) {
                Ok(f) => f,
                Err(e) => return fail(&e),
            };
            block_on(async move {
                let listener = altur_gateway::listen(settings.listen).await?;
                tracing::info!(
                    listen = %settings.listen,
                    upstream = %altur_gateway::redact::url(&settings.upstream.base_url),
                    "altur-gateway serving"
                );
                altur_gateway::run_with(listener, settings, key, files, server::shutdown_signal())
                    .await
            })
        }
    }
}

/// The callers in force, as `check-config` shows them: names, scopes, weights
/// and rates, never a token or its hash.
fn describe_callers(callers: &CallersFile) -> String {
    let table = callers.current();
    let anon = table.anonymous.scopes.names();
    let mut out = format!("# anonymous caller (no token): scopes = {anon:?}, weight = 1\n");
    match callers.path() {
        None => out.push_str("# callers file: none (every request is the anonymous caller)\n"),
        Some(p) => {
            out.push_str(&format!(
                "# callers file: {} ({} callers; tokens are stored as SHA-256 and never shown)\n",
                p.display(),
                table.len()
            ));
            for c in table.iter() {
                let rps = c
                    .requests_per_second
                    .map_or_else(|| "unlimited".to_string(), |r| r.to_string());
                out.push_str(&format!(
                    "#   {}: scopes = {:?}, weight = {}, requests_per_second = {rps}\n",
                    c.name,
                    c.scopes.names(),
                    c.weight
                ));
            }
        }
    }
    out
}

fn load_key(settings: &Settings) -> Result<ApiKey, StartError> {
    let env = match std::env::var(secret::ENV_VAR) {
        Ok(v) => Some(v),
        Err(std::env::VarError::NotPresent) => None,
        // Not "missing": it is set, and the operator must learn what is wrong with it.
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(StartError::Config(ConfigError::Source {
                place: format!("environment variable {}", secret::ENV_VAR),
                reason: "its value is not valid UTF-8".into(),
            }));
        }
    };
    Ok(ApiKey::load(
        env,
        settings.upstream.api_key_file.as_deref(),
    )?)
}

fn block_on(fut: impl std::future::Future<Output = Result<(), StartError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&StartError::Bind(e)),
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &StartError) -> ExitCode {
    eprintln!("altur-gateway: {e}");
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
}
