//! The configuration as written by the user (serde), before validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::RedisUrl;

/// The settings as written by the user, before validation. Serialized back by
/// `check-config`; it never holds the secret.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub listen: String,
    pub upstream: RawUpstream,
    pub rate_limit: RawRateLimit,
    pub cache: RawCache,
    pub callers: RawCallers,
    pub webhook: RawWebhook,
    pub server: RawServer,
    pub log: RawLog,
    #[serde(default)]
    pub telemetry: RawTelemetry,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<String>,
    pub timeout_ms: u64,
    pub max_retries: u32,
    pub max_request_body_bytes: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    pub requests_per_second: u32,
    pub margin_ms: u64,
    pub max_wait_ms: u64,
    pub backend: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<RedisUrl>,
    pub fallback_requests_per_second: u32,
    pub reserve_for_callers: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    pub ttl_seconds: u64,
    pub negative_ttl_seconds: u64,
    pub stale_if_error_seconds: u64,
    pub stale_while_revalidate_seconds: u64,
    pub refresh_ahead: bool,
    pub max_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<RedisUrl>,
    /// `cache.routes.<route>`: one read route's own freshness.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routes: BTreeMap<String, RawRouteCache>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouteCache {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_ttl_seconds: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawCallers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub anonymous_scopes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub header_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    /// Absent: derived from the open-file limit at start-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    /// OTLP/HTTP endpoint (`/v1/traces` is appended); none: no export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
}
