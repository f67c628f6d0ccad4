//! One request's way through the simulator: control endpoints, admission
//! (rate limit, fault, key), the body, the latency, then a fault's answer
//! or the endpoint's, each step recorded.

use std::sync::Arc;

use bytes::Bytes;
use http::header::CACHE_CONTROL;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;

use super::conn::Slot;
use super::endpoints::{Outcome, dispatch};
use super::faults::{self, Fault};
use super::reply::Reply;
use super::{Gate, Shared, control};

/// Largest request body read; larger is 413 (Altur's documented batches are far smaller).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Answers, or fails so that hyper drops the connection unanswered
/// ([`Fault::Close`], or a request body that broke off).
pub(super) async fn handle(
    shared: Arc<Shared>,
    slot: Arc<Slot>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let _busy = slot.busy();
    if let Some(resp) = control(&shared, &req) {
        return Ok(resp);
    }
    let now = tokio::time::Instant::now();
    let (parts, body) = req.into_parts();
    let admitted = shared.admit(now, &parts, slot.id);
    let seq = admitted.seq;

    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            let reply = Reply::failure(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large");
            shared.finish(seq, &reply, false);
            return Ok(reply.into_response());
        }
        Err(e) => return Err(std::io::Error::other(e)),
    };
    shared.record_body(seq, &body);
    if !admitted.latency.is_zero() {
        tokio::time::sleep(admitted.latency).await;
    }

    let normal = |authorized: bool| -> Outcome {
        if !authorized {
            return unauthorized();
        }
        let key = parts
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok());
        let mut world = shared.world();
        dispatch(
            &mut world,
            &parts.method,
            parts.uri.path(),
            parts.uri.query(),
            key,
            &body,
        )
    };
    let outcome = match admitted.gate {
        Gate::Limited => plain(faults::too_many(Some("1"))),
        Gate::Pass { authorized } => normal(authorized),
        Gate::Fault { fault, authorized } => match (faults::answer(&fault), fault) {
            (Some(reply), _) => plain(reply),
            (None, Fault::Hang) => std::future::pending::<Outcome>().await,
            (None, Fault::Close) => {
                return Err(std::io::Error::other("simulated connection close"));
            }
            (None, Fault::Delay(d)) => {
                tokio::time::sleep(d).await;
                normal(authorized)
            }
            (None, _) => {
                let mut o = normal(authorized);
                o.reply = o
                    .reply
                    .with_header(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                o
            }
        },
    };
    shared.finish(seq, &outcome.reply, outcome.replayed);
    Ok(outcome.reply.into_response())
}

fn plain(reply: Reply) -> Outcome {
    Outcome {
        reply,
        replayed: false,
    }
}

fn unauthorized() -> Outcome {
    plain(Reply::failure(
        StatusCode::UNAUTHORIZED,
        faults::sentence(401),
    ))
}
