//! Altur's `on_call_end` webhook as the simulated Altur sends it: the payload,
//! its `X-Altur-Signature`, and the signed POST (for the demo and for tests
//! of the gateway's `POST /webhooks/altur`).
//!
//! The signature is base64(HMAC-SHA256(key = base64-decode(secret), body)),
//! over the compact JSON that is sent.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{Request, Uri};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use sha2::Sha256;

use super::bodies::{generated_contact, generated_contact_count};
use super::clock::rfc3339;
use super::seed::{hash, mm_ss, name, phone};

/// The header Altur signs its deliveries with.
pub const SIGNATURE_HEADER: &str = "x-altur-signature";
/// Altur expects an answer within 10 s.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An `on_call_end` payload shaped like Altur's, deterministic for its
/// arguments. The campaign, when given, is in `campaign_id` and in
/// `campaign_user.campaign_id` (`campaign_user` is null without one).
pub fn on_call_end(call_id: &str, end_user_id: &str, campaign_id: Option<i64>) -> Value {
    let h = hash(&["on_call_end", call_id]);
    let created = 1_769_936_400 + (h % (27 * 86_400)) as i64;
    let started = created + 4;
    let duration = 30 + (h % 300) as i64;
    let ended = started + duration;
    let person = name(hash(&["enduser", end_user_id]));
    let to = phone(hash(&["phone", end_user_id]));
    let campaign_user = campaign_id.filter(|c| *c >= 0).map(|c| {
        let n = (h % generated_contact_count(c).unsigned_abs()) as i64 + 1;
        let contact = generated_contact(c, n);
        json!({
            "campaign_id": c,
            "id": contact["id"],
            "f_id": contact["f_id"],
            "name": contact["name"],
            "contact": contact["contact"],
            "context": contact["context"],
            "status": contact["status"],
            "extracted_data": contact["extracted_data"],
            "tags": contact["tags"],
        })
    });
    json!({
        "event_type": "on_call_end",
        "id": call_id,
        "type": "outbound",
        "status": "ended",
        "phone_number_from": "+525512345678",
        "phone_number_to": to,
        "answered_by": "human",
        "created_at": rfc3339(created),
        "started_at": rfc3339(started),
        "ended_at": rfc3339(ended),
        "duration": duration,
        "billed_duration": mm_ss(((duration + 59) / 60 * 60).unsigned_abs()),
        "recording_url": format!("/call/{call_id}/recording"),
        "transcript": [
            {"sent_by": "AI", "sent_at": rfc3339(started + 1), "content": "Hola, le llamo de parte de Altur."},
            {"sent_by": "EU", "sent_at": rfc3339(started + 6), "content": "Sí, dígame."},
        ],
        "assistant": {"id": format!("agent_{:04}", h % 10_000), "nickname": "Ale", "name": format!("Agent {}", h % 100)},
        "end_user": {
            "id": end_user_id,
            "status": "active",
            "display_name": person,
            "phone_number": to,
            "context": {},
            "extracted_data": {"interested": h.is_multiple_of(2)},
            "tags": [],
        },
        "campaign_user": campaign_user,
        "campaign_id": campaign_id,
    })
}

/// base64(HMAC-SHA256(base64-decode(`secret_b64`), `body`)); `None` when
/// the secret is not base64.
pub fn sign(secret_b64: &str, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret_b64.trim()).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(body);
    Some(STANDARD.encode(mac.finalize().into_bytes()))
}

/// Why a delivery did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("invalid webhook url")]
    Url,
    #[error("the webhook secret is not base64")]
    Secret,
    #[error("delivery failed: {0}")]
    Delivery(String),
    #[error("no answer within 10 s")]
    Timeout,
}

/// POSTs `payload` as compact JSON to `url` (http or https), signed with
/// `X-Altur-Signature`; returns the status the receiver answered.
///
/// # Errors
/// A bad URL or secret, a failed connection, or no answer within 10 s.
pub async fn send(url: &str, secret_b64: &str, payload: &Value) -> Result<u16, SendError> {
    let body = payload.to_string().into_bytes();
    let signature = sign(secret_b64, &body).ok_or(SendError::Secret)?;
    let uri: Uri = url.parse().map_err(|_| SendError::Url)?;
    let req = Request::post(uri)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, "altur-webhooks (simulated)")
        .header(SIGNATURE_HEADER, signature)
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| SendError::Url)?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let client = Client::builder(TokioExecutor::new()).build(connector);
    match tokio::time::timeout(TIMEOUT, client.request(req)).await {
        Ok(Ok(resp)) => Ok(resp.status().as_u16()),
        Ok(Err(e)) => Err(SendError::Delivery(e.to_string())),
        Err(_) => Err(SendError::Timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected value comes from Python's standard library:
    /// python3 -c 'import hmac,hashlib,base64; s="YWx0dXItd2ViaG9vay10ZXN0LXNlY3JldA=="; b=b"{\"event_type\":\"on_call_end\",\"id\":\"call-1\"}"; print(base64.b64encode(hmac.new(base64.b64decode(s), b, hashlib.sha256).digest()).decode())'
    #[test]
    fn sign_matches_python() {
        let secret = "YWx0dXItd2ViaG9vay10ZXN0LXNlY3JldA==";
        let body = br#"{"event_type":"on_call_end","id":"call-1"}"#;
        assert_eq!(
            sign(secret, body).as_deref(),
            Some("bvsAgnnddkCHWQr1gmHbYBmGKe1zWWFZZrVlTbCvFzs=")
        );
        assert_eq!(sign("not base64!", body), None);
    }

    #[test]
    fn payload_names_call_end_user_and_campaign() {
        let p = on_call_end("call-1", "eu-1", Some(42));
        assert_eq!(p["event_type"], "on_call_end");
        assert_eq!(p["id"], "call-1");
        assert_eq!(p["end_user"]["id"], "eu-1");
        assert_eq!(p["campaign_id"], 42);
        assert_eq!(p["campaign_user"]["campaign_id"], 42);
        assert_eq!(p, on_call_end("call-1", "eu-1", Some(42)), "deterministic");
        let p = on_call_end("call-1", "eu-1", None);
        assert!(p["campaign_id"].is_null() && p["campaign_user"].is_null());
    }

    #[tokio::test]
    async fn send_posts_the_signed_compact_json() {
        use http_body_util::BodyExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let tx = std::sync::Mutex::new(Some(tx));
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let tx = tx.lock().expect("lock").take();
                async move {
                    let sig = req.headers().get(SIGNATURE_HEADER).cloned();
                    let body = req.into_body().collect().await.expect("body").to_bytes();
                    if let Some(tx) = tx {
                        let _ = tx.send((sig, body));
                    }
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::new())))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
        let secret = STANDARD.encode(b"s3cret");
        let payload = on_call_end("c-9", "eu-9", Some(7));
        let status = send(&format!("http://{addr}/webhooks/altur"), &secret, &payload)
            .await
            .expect("delivered");
        assert_eq!(status, 200);
        let (sig, body) = rx.await.expect("received");
        assert_eq!(body, payload.to_string().as_bytes(), "compact JSON");
        let sig = sig.expect("signed");
        assert_eq!(sig.to_str().ok(), sign(&secret, &body).as_deref());
        assert!(matches!(
            send("not a url", &secret, &payload).await,
            Err(SendError::Url)
        ));
    }
}
