//! The pipeline, and the only module that knows the order of the steps:
//! route -> cache -> (flight) -> queue -> upstream -> store -> respond.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AGE, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use tokio::time::Instant;

use crate::cache::shared::{FetchLock, LOCK_TTL, LockAttempt, SharedCache, SharedLookup};
use crate::cache::{Cache, Entry, Lookup};
use crate::config::{ConfigError, Settings};
use crate::error::{GatewayError, Refusal, UpstreamError};
use crate::flight::{Flights, Leader};
use crate::health::Readiness;
use crate::metrics::Metrics;
use crate::queue::{Budget, LocalBudget, Queue};
use crate::routes::{self, CampaignId, Route};
use crate::secret::ApiKey;
use crate::upstream::{FetchError, Upstream};

/// Every response body is one buffer.
pub type Body = Full<Bytes>;

const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The largest header block answered normally; larger gets 431.
const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Base of the exponential backoff between retries of a 5xx or connect error.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// How a campaign request was served: one vocabulary for the `Cache-Status`
/// header, the log line and the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    /// Found in the shared (Redis) cache: another replica fetched it.
    SharedHit,
    /// This request led an upstream fetch.
    Miss {
        stored: bool,
    },
    /// This request joined another request's fetch.
    Collapsed,
    /// Served a stale entry because upstream failed or the queue was full.
    Stale {
        fwd_status: u16,
    },
    /// Refused at once: the queue wait would exceed `max_wait_ms`.
    Refused,
    /// Not a cacheable route.
    None,
}

impl CacheOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::SharedHit => "shared_hit",
            CacheOutcome::Miss { .. } => "miss",
            CacheOutcome::Collapsed => "collapsed",
            CacheOutcome::Stale { .. } => "stale",
            CacheOutcome::Refused => "refused",
            CacheOutcome::None => "none",
        }
    }

    /// The RFC 9211 `Cache-Status` value.
    pub fn header(&self) -> Option<HeaderValue> {
        Some(match self {
            CacheOutcome::Hit => HeaderValue::from_static("altur-gateway; hit"),
            CacheOutcome::SharedHit => {
                HeaderValue::from_static("altur-gateway; hit; detail=shared")
            }
            CacheOutcome::Miss { stored: true } => {
                HeaderValue::from_static("altur-gateway; fwd=miss; stored")
            }
            CacheOutcome::Miss { stored: false } => {
                HeaderValue::from_static("altur-gateway; fwd=miss")
            }
            CacheOutcome::Collapsed => {
                HeaderValue::from_static("altur-gateway; fwd=miss; collapsed")
            }
            CacheOutcome::Stale { fwd_status } => {
                HeaderValue::try_from(format!("altur-gateway; fwd=stale; fwd-status={fwd_status}"))
                    .ok()?
            }
            CacheOutcome::Refused => {
                HeaderValue::from_static("altur-gateway; fwd=miss; detail=busy")
            }
            CacheOutcome::None => return None,
        })
    }
}

/// What one upstream fetch produced, shared by every caller of the flight.
#[derive(Debug)]
pub enum Outcome {
    /// An upstream answer, relayed as it came.
    Response {
        entry: Arc<Entry>,
        stored: bool,
        /// Taken from the shared cache, not from upstream.
        shared: bool,
        waited: Duration,
    },
    /// No usable answer.
    Failed {
        error: UpstreamError,
        waited: Duration,
    },
}

/// `Age` values, built once: a hit clones one instead of formatting a number.
static AGES: LazyLock<Vec<HeaderValue>> =
    LazyLock::new(|| (0..=1024u64).map(HeaderValue::from).collect());

fn age_header(secs: u64) -> HeaderValue {
    usize::try_from(secs)
        .ok()
        .and_then(|i| AGES.get(i).cloned())
        .unwrap_or_else(|| HeaderValue::from(secs))
}

/// The answer to one request: at once (a cache hit, a refusal, a local
/// route), or a boxed future for a request that waits on upstream.
pub enum Handled {
    Ready(Option<Response<Body>>),
    Waiting(Pin<Box<dyn Future<Output = Response<Body>> + Send>>),
}

impl Future for Handled {
    type Output = Response<Body>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response<Body>> {
        match &mut *self {
            // hyper never polls a finished future again; were it to, it
            // gets an empty 500 rather than a panic.
            Handled::Ready(resp) => Poll::Ready(resp.take().unwrap_or_else(|| {
                let mut r = Response::new(Full::new(Bytes::new()));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r
            })),
            Handled::Waiting(fut) => fut.as_mut().poll(cx),
        }
    }
}

/// What `finish` needs from the request, which is gone by then.
struct Done {
    started: Instant,
    request_id: HeaderValue,
    access: Option<(http::Method, String)>,
}

/// Unique request ids: a per-process random prefix and a counter.
struct RequestIds {
    prefix: u64,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> RequestIds {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        RequestIds {
            prefix: h.finish(),
            next: AtomicU64::new(1),
        }
    }

    fn for_request(&self, headers: &HeaderMap) -> HeaderValue {
        if let Some(v) = headers.get(&X_REQUEST_ID)
            && !v.is_empty()
            && v.len() <= 200
        {
            return v.clone();
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        // `{prefix:016x}-{n:x}` written by hand: one exact-size allocation
        // instead of format!'s growing String and its conversion.
        let mut buf = [0u8; 33];
        let mut len = hex(&mut buf, self.prefix, 16);
        buf[len] = b'-';
        len += 1;
        let digits = (16 - n.leading_zeros() as usize / 4).max(1);
        len += hex(&mut buf[len..], n, digits);
        HeaderValue::from_bytes(&buf[..len]).unwrap_or(HeaderValue::from_static("-"))
    }
}

/// Writes the low `digits` hex digits of `v` into `out`; returns `digits`.
fn hex(out: &mut [u8], v: u64, digits: usize) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in out[..digits].iter_mut().enumerate() {
        *b = HEX[((v >> (4 * (digits - 1 - i))) & 0xf) as usize];
    }
    digits
}

/// The gateway: everything a request needs, shared by all connections.
pub struct Gateway {
    settings: Settings,
    cache: Cache,
    /// The second level, in Redis (`cache.redis_url`).
    shared: Option<SharedCache>,
    flights: Arc<Flights<CampaignId, Arc<Outcome>>>,
    queue: Queue,
    upstream: Upstream,
    key: Arc<ApiKey>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    ids: RequestIds,
}

impl Gateway {
    /// Builds the gateway with the local (per-process) budget.
    ///
    /// # Errors
    /// A base URL the client cannot use.
    pub fn new(settings: Settings, key: Arc<ApiKey>) -> Result<Arc<Gateway>, ConfigError> {
        let rl = &settings.rate_limit;
        let budget: Arc<dyn Budget> = Arc::new(LocalBudget::new(
            rl.requests_per_second.get() as usize,
            rl.window(),
        ));
        Self::with_budget(
            settings,
            key,
            budget,
            Arc::new(Metrics::new()),
            Arc::new(Readiness::default()),
        )
    }

    /// Builds the gateway with a given budget, metrics and readiness (a shared
    /// limiter reports through them).
    ///
    /// # Errors
    /// A base URL the client cannot use.
    pub fn with_budget(
        settings: Settings,
        key: Arc<ApiKey>,
        budget: Arc<dyn Budget>,
        metrics: Arc<Metrics>,
        readiness: Arc<Readiness>,
    ) -> Result<Arc<Gateway>, ConfigError> {
        let c = &settings.cache;
        let cache = Cache::new(c.max_bytes, c.ttl, c.negative_ttl, c.stale_if_error);
        let shared = match &c.redis_url {
            Some(url) => Some(
                SharedCache::new(url).map_err(|reason| ConfigError::Invalid {
                    key: "cache.redis_url",
                    reason,
                })?,
            ),
            None => None,
        };
        let queue = Queue::start(
            budget,
            settings.rate_limit.max_wait,
            Some(metrics.queue_depth.clone()),
        );
        let upstream = Upstream::new(
            &settings.upstream.base_url,
            Arc::clone(&key),
            settings.upstream.timeout,
        )
        .map_err(|reason| ConfigError::Invalid {
            key: "upstream.base_url",
            reason,
        })?;
        Ok(Arc::new(Gateway {
            settings,
            cache,
            shared,
            flights: Arc::default(),
            queue,
            upstream,
            key,
            metrics,
            readiness,
            ids: RequestIds::new(),
        }))
    }

    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Serves one downstream request. Never fails: every error is a response.
    ///
    /// The request is consumed before this returns: its head shares hyper's
    /// read buffer, and a request still alive while hyper polls the
    /// connection for the next one makes hyper allocate a fresh 8 KiB buffer
    /// for every request. Cache hits, refusals and the local routes are
    /// answered here, synchronously; only a request that needs upstream
    /// gets a (boxed) future.
    pub fn handle<B>(self: &Arc<Self>, req: Request<B>) -> Handled {
        // One clock read serves the access line's latency and the freshness check.
        let started = Instant::now();
        let request_id = self.ids.for_request(req.headers());
        let routed =
            check_limits(&req).and_then(|()| routes::route(req.method(), req.uri().path()));
        // What the access line needs, copied only when it will be written.
        let access = tracing::enabled!(target: "altur_gateway::access", tracing::Level::INFO)
            .then(|| (req.method().clone(), req.uri().path().to_owned()));
        drop(req);
        let done = Done {
            started,
            request_id,
            access,
        };
        let (resp, route, cache) = match routed {
            Err(refusal) => (error_response(&refusal.into()), "other", CacheOutcome::None),
            Ok(Route::Campaign { id, head }) => match self.fresh(id, head, started) {
                Some(resp) => (resp, "campaign", CacheOutcome::Hit),
                None => {
                    let gateway = Arc::clone(self);
                    return Handled::Waiting(Box::pin(async move {
                        let (resp, cache, waited) = gateway.campaign(id, head).await;
                        gateway.finish(done, resp, "campaign", cache, waited)
                    }));
                }
            },
            Ok(route @ (Route::Healthz | Route::Readyz | Route::Metrics)) => {
                (self.local_route(route), route.as_str(), CacheOutcome::None)
            }
        };
        Handled::Ready(Some(self.finish(done, resp, route, cache, None)))
    }

    /// Metrics, the access line and `X-Request-Id`: the last step of every request.
    fn finish(
        &self,
        done: Done,
        mut resp: Response<Body>,
        route: &'static str,
        cache: CacheOutcome,
        waited: Option<Duration>,
    ) -> Response<Body> {
        let status = resp.status().as_u16();
        self.metrics.request(route, status, cache.as_str());
        if let Some((method, path)) = &done.access {
            tracing::info!(
                target: "altur_gateway::access",
                method = %method,
                path = path.as_str(),
                status,
                cache = cache.as_str(),
                upstream_wait_ms = waited.map(|w| w.as_millis() as u64),
                latency_us = done.started.elapsed().as_micros() as u64,
                request_id = done.request_id.to_str().unwrap_or("-"),
                "request"
            );
        }
        resp.headers_mut().insert(X_REQUEST_ID, done.request_id);
        resp
    }

    /// The response for a cache entry fresh at `now`, if there is one.
    fn fresh(&self, id: CampaignId, head: bool, now: Instant) -> Option<Response<Body>> {
        match self.cache.lookup(id, now) {
            Lookup::Fresh(entry) => Some(entry_response(
                &entry,
                CacheOutcome::Hit,
                Some(entry.age_secs(now)),
                head,
            )),
            _ => None,
        }
    }

    fn local_route(&self, route: Route) -> Response<Body> {
        match route {
            Route::Healthz => {
                json_response(StatusCode::OK, Bytes::from_static(b"{\"status\":\"ok\"}"))
            }
            Route::Readyz => {
                let failing = self
                    .key
                    .reload_failing()
                    .then(|| "key file unreadable or empty; using the last good key".to_string());
                self.readiness.note("api_key", failing);
                match self.readiness.check() {
                    Ok(body) => json_response(StatusCode::OK, Bytes::from(body)),
                    Err(body) => json_response(StatusCode::SERVICE_UNAVAILABLE, Bytes::from(body)),
                }
            }
            _ => {
                let (entries, bytes) = self.cache.usage();
                self.metrics
                    .cache_entries
                    .set(i64::try_from(entries).unwrap_or(i64::MAX));
                self.metrics
                    .cache_bytes
                    .set(i64::try_from(bytes).unwrap_or(i64::MAX));
                let failures = self.key.reload_failures();
                let seen = self.metrics.key_reload_failures.get();
                if failures > seen {
                    self.metrics.key_reload_failures.inc_by(failures - seen);
                }
                let mut r = Response::new(Full::new(Bytes::from(self.metrics.encode())));
                r.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                r
            }
        }
    }

    async fn campaign(
        self: &Arc<Self>,
        id: CampaignId,
        head: bool,
    ) -> (Response<Body>, CacheOutcome, Option<Duration>) {
        // Another request may have stored it since `handle` looked.
        if let Some(resp) = self.fresh(id, head, Instant::now()) {
            return (resp, CacheOutcome::Hit, None);
        }

        let (ticket, leader) = self.flights.join(id);
        if let Some(leader) = leader {
            let gateway = Arc::clone(self);
            tokio::spawn(async move { gateway.fetch(id, leader).await });
        }
        let collapsed = !ticket.leader;
        let outcome = ticket.wait().await.unwrap_or_else(|| {
            Arc::new(Outcome::Failed {
                error: UpstreamError::Unavailable("fetch ended without a result".into()),
                waited: Duration::ZERO,
            })
        });

        let (failed_status, waited) = match &*outcome {
            Outcome::Response { entry, waited, .. } if entry.status.is_server_error() => {
                (Some(entry.status.as_u16()), *waited)
            }
            Outcome::Response { waited, .. } => (None, *waited),
            Outcome::Failed { error, waited } => (
                Some(GatewayError::from(error.clone()).status().as_u16()),
                *waited,
            ),
        };
        if let Some(fwd_status) = failed_status
            && let Some(stale) = self.stale_entry(id)
        {
            self.metrics.stale_served.inc();
            let outcome = CacheOutcome::Stale { fwd_status };
            let age = stale.age_secs(Instant::now());
            return (
                entry_response(&stale, outcome, Some(age), head),
                outcome,
                Some(waited),
            );
        }

        match &*outcome {
            Outcome::Response {
                entry,
                stored,
                shared,
                ..
            } => {
                let cache = if collapsed {
                    CacheOutcome::Collapsed
                } else if *shared {
                    CacheOutcome::SharedHit
                } else {
                    CacheOutcome::Miss { stored: *stored }
                };
                let age = stored.then(|| entry.age_secs(Instant::now()));
                (entry_response(entry, cache, age, head), cache, Some(waited))
            }
            Outcome::Failed { error, .. } => {
                let cache = match error {
                    UpstreamError::Busy(_) => CacheOutcome::Refused,
                    _ if collapsed => CacheOutcome::Collapsed,
                    _ => CacheOutcome::Miss { stored: false },
                };
                let mut resp = error_response(&error.clone().into());
                if let Some(v) = cache.header() {
                    resp.headers_mut().insert(CACHE_STATUS, v);
                }
                (resp, cache, Some(waited))
            }
        }
    }

    /// A 200 entry still within its stale-if-error window (or fresh again,
    /// if another flight just stored one).
    fn stale_entry(&self, id: CampaignId) -> Option<Arc<Entry>> {
        match self.cache.lookup(id, Instant::now()) {
            Lookup::Fresh(e) | Lookup::Stale(e) if e.status == StatusCode::OK => Some(e),
            _ => None,
        }
    }

    /// The leader task of a flight: consults the shared cache (taking the
    /// fleet's fetch lock for the key), else waits in the queue (giving the
    /// place back if every caller leaves), fetches with retries, stores,
    /// publishes, and shares what it stored.
    async fn fetch(self: Arc<Self>, id: CampaignId, leader: Leader<CampaignId, Arc<Outcome>>) {
        // A flight for this key may have finished between our lookup and join.
        if let Lookup::Fresh(entry) = self.cache.lookup(id, Instant::now()) {
            leader.finish(Arc::new(Outcome::Response {
                entry,
                stored: true,
                shared: false,
                waited: Duration::ZERO,
            }));
            return;
        }
        let Some(shared) = &self.shared else {
            if let Some(outcome) = self.fetch_upstream(id, &leader).await {
                leader.finish(Arc::new(outcome));
            }
            return;
        };
        let lock = match self.claim(shared, id, &leader).await {
            Claim::Hit(entry) => {
                leader.finish(Arc::new(Outcome::Response {
                    entry,
                    stored: true,
                    shared: true,
                    waited: Duration::ZERO,
                }));
                return;
            }
            Claim::Abandoned => return,
            Claim::Fetch(lock) => lock,
        };
        let outcome = match &lock {
            Some(lock) => {
                // Keep the lock while queueing and fetching; the holder may
                // wait up to max_wait in the queue, far past LOCK_TTL.
                let keep = async {
                    loop {
                        tokio::time::sleep(LOCK_TTL / 3).await;
                        shared.extend(lock).await;
                    }
                };
                tokio::select! {
                    o = self.fetch_upstream(id, &leader) => o,
                    () = keep => None,
                }
            }
            None => self.fetch_upstream(id, &leader).await,
        };
        let to_share = match &outcome {
            Some(Outcome::Response {
                entry,
                stored: true,
                ..
            }) => Some(Arc::clone(entry)),
            _ => None,
        };
        if let Some(outcome) = outcome {
            leader.finish(Arc::new(outcome));
        }
        // Written before the lock goes, so a replica waiting on it finds the entry.
        if let Some(entry) = to_share {
            shared.put(id, &entry).await;
        }
        if let Some(lock) = lock {
            shared.unlock(lock).await;
        }
    }

    /// Looks in the shared cache; on a miss takes the fleet's fetch lock for
    /// `id`, or, while another replica holds it, polls for what it stores.
    async fn claim(
        &self,
        shared: &SharedCache,
        id: CampaignId,
        leader: &Leader<CampaignId, Arc<Outcome>>,
    ) -> Claim {
        let s = &self.settings;
        // The holder extends its lock while it works; this bounds a wait on a
        // holder that is alive but stuck.
        let deadline = Instant::now()
            + s.rate_limit.max_wait
            + s.upstream.timeout * (s.upstream.max_retries + 1)
            + LOCK_TTL;
        let mut backoff = Duration::from_millis(5);
        let mut kept_stale = false;
        loop {
            match shared.get(id).await {
                SharedLookup::Fresh(e) => return Claim::Hit(self.cache.insert(id, Arc::new(e))),
                // Kept for stale-if-error, in case our own fetch fails.
                SharedLookup::Stale(e) if !kept_stale => {
                    kept_stale = true;
                    self.cache.insert(id, Arc::new(e));
                }
                _ => {}
            }
            match shared.try_lock(id).await {
                LockAttempt::Acquired(lock) => {
                    // The previous holder may have stored and unlocked just
                    // after our look.
                    if let SharedLookup::Fresh(e) = shared.get(id).await {
                        shared.unlock(lock).await;
                        return Claim::Hit(self.cache.insert(id, Arc::new(e)));
                    }
                    return Claim::Fetch(Some(lock));
                }
                LockAttempt::Unavailable => return Claim::Fetch(None),
                LockAttempt::Held => {}
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    path = id.upstream_path(),
                    "fetch lock held too long: fetching anyway"
                );
                return Claim::Fetch(None);
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = leader.abandoned() => return Claim::Abandoned,
            }
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
    }

    /// Waits in the queue, fetches with retries and stores in moka. `None`
    /// when every caller left before the request could start.
    async fn fetch_upstream(
        &self,
        id: CampaignId,
        leader: &Leader<CampaignId, Arc<Outcome>>,
    ) -> Option<Outcome> {
        let path = id.upstream_path();
        let mut waited = Duration::ZERO;
        let mut last: Option<Outcome> = None;
        let mut retry_delay = None;
        for attempt in 0..=self.settings.upstream.max_retries {
            if let Some(delay) = retry_delay.take() {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = leader.abandoned() => return None,
                }
            }
            let grant = tokio::select! {
                g = self.queue.acquire() => g,
                () = leader.abandoned() => return None,
            };
            let mut grant = match grant {
                Ok(g) => g,
                Err(full) => {
                    // Keep an upstream answer we already have over a refusal.
                    if !matches!(last, Some(Outcome::Response { .. })) {
                        last = Some(Outcome::Failed {
                            error: UpstreamError::Busy(full.expected),
                            waited,
                        });
                    }
                    break;
                }
            };
            waited += grant.waited;
            self.metrics.queue_wait.observe(grant.waited.as_secs_f64());
            let sent = Instant::now();
            let result = self.upstream.get(&path, || grant.sent()).await;
            drop(grant);
            self.metrics
                .upstream_duration
                .observe(sent.elapsed().as_secs_f64());
            let retries_left = attempt < self.settings.upstream.max_retries;
            match result {
                Ok(f) => {
                    let status = f.status.as_u16();
                    self.metrics.upstream(status_label(status));
                    self.readiness.upstream_answered(status);
                    match status {
                        429 => {
                            let pause = f.retry_after.unwrap_or(Duration::from_secs(1));
                            self.queue.pause(Instant::now() + pause).await;
                            self.metrics.rate_limit_pauses.inc();
                            tracing::warn!(
                                path,
                                pause_ms = pause.as_millis() as u64,
                                attempt,
                                "upstream 429: pausing the queue"
                            );
                            last = Some(Outcome::Failed {
                                error: UpstreamError::Busy(pause),
                                waited,
                            });
                        }
                        401 | 403 => {
                            tracing::error!(path, status, "upstream rejected the api key");
                            last = Some(Outcome::Failed {
                                error: UpstreamError::AuthFailed(status),
                                waited,
                            });
                            break;
                        }
                        502..=504 => {
                            tracing::warn!(path, status, attempt, "upstream error");
                            let entry = Entry::transient(f.status, f.content_type, f.body);
                            last = Some(Outcome::Response {
                                entry: Arc::new(entry),
                                stored: false,
                                shared: false,
                                waited,
                            });
                            retry_delay = Some(RETRY_BACKOFF * 2u32.saturating_pow(attempt));
                        }
                        _ => {
                            let (entry, not_stored) =
                                self.cache
                                    .store(id, f.status, f.content_type, f.body, f.no_store);
                            if let Some(why) = not_stored {
                                tracing::debug!(path, status, reason = ?why, "not stored");
                            }
                            let stored = not_stored.is_none();
                            last = Some(Outcome::Response {
                                entry,
                                stored,
                                shared: false,
                                waited,
                            });
                            break;
                        }
                    }
                }
                Err(FetchError::Timeout) => {
                    self.metrics.upstream("timeout");
                    tracing::warn!(path, "upstream timeout");
                    last = Some(Outcome::Failed {
                        error: UpstreamError::Timeout,
                        waited,
                    });
                    break;
                }
                Err(FetchError::Connect(reason)) => {
                    self.metrics.upstream("error");
                    tracing::warn!(path, error = %reason, attempt, "upstream connect failed");
                    last = Some(Outcome::Failed {
                        error: UpstreamError::Unavailable(reason),
                        waited,
                    });
                    retry_delay = Some(RETRY_BACKOFF * 2u32.saturating_pow(attempt));
                }
                Err(FetchError::Protocol(reason)) => {
                    self.metrics.upstream("error");
                    tracing::warn!(path, error = %reason, "upstream exchange failed");
                    last = Some(Outcome::Failed {
                        error: UpstreamError::Unavailable(reason),
                        waited,
                    });
                    break;
                }
            }
            if !retries_left {
                break;
            }
        }
        Some(last.unwrap_or(Outcome::Failed {
            error: UpstreamError::Unavailable("no attempt made".into()),
            waited,
        }))
    }
}

/// What the shared cache said about a key, for the flight's leader.
enum Claim {
    /// Another replica stored it: no fetch.
    Hit(Arc<Entry>),
    /// Fetch it, holding the fleet's lock when Redis could give one.
    Fetch(Option<FetchLock>),
    /// Every caller left while waiting on another replica's fetch.
    Abandoned,
}

fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        404 => "404",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        401 => "401",
        403 => "403",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

/// Size limits the HTTP layer leaves to us: 414 and 431 with the JSON body.
fn check_limits<B>(req: &Request<B>) -> Result<(), Refusal> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len())
        + req.uri().authority().map_or(0, |a| a.as_str().len());
    if target > routes::MAX_TARGET_BYTES {
        return Err(Refusal::UriTooLong);
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if headers > MAX_HEADER_BYTES {
        return Err(Refusal::HeadersTooLarge);
    }
    Ok(())
}

fn entry_response(
    entry: &Entry,
    cache: CacheOutcome,
    age: Option<u64>,
    head: bool,
) -> Response<Body> {
    let body = if head {
        Bytes::new()
    } else {
        entry.body.clone()
    };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = entry.status;
    let h = resp.headers_mut();
    h.reserve(6);
    if let Some(ct) = &entry.content_type {
        h.insert(CONTENT_TYPE, ct.clone());
    }
    if head {
        h.insert(CONTENT_LENGTH, HeaderValue::from(entry.body.len()));
    }
    if let Some(v) = cache.header() {
        h.insert(CACHE_STATUS, v);
    }
    if let Some(age) = age {
        h.insert(AGE, age_header(age));
    }
    resp
}

fn json_response(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, JSON);
    resp
}

/// The gateway's own error: status, JSON body, and `Allow` / `Retry-After`.
pub fn error_response(err: &GatewayError) -> Response<Body> {
    let mut resp = json_response(err.status(), err.body());
    if let Some(allow) = err.allow() {
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
    }
    if let Some(secs) = err.retry_after_secs() {
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_prefix_dash_counter_in_hex() {
        let ids = RequestIds {
            prefix: 0x00ab_cdef_0123_4567,
            next: AtomicU64::new(0),
        };
        for n in [0u64, 1, 9, 15, 16, 255, 256, 0xdead_beef, u64::MAX] {
            ids.next.store(n, Ordering::Relaxed);
            let got = ids.for_request(&HeaderMap::new());
            assert_eq!(got, format!("{:016x}-{n:x}", ids.prefix).as_str(), "{n}");
        }
        let mut h = HeaderMap::new();
        h.insert(X_REQUEST_ID, HeaderValue::from_static("abc"));
        assert_eq!(ids.for_request(&h), "abc");
    }
}
