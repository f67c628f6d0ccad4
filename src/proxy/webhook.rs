//! `POST /webhooks/altur`: a delivery checked (size, JSON, signature), then
//! what its event changed dropped from the cache. It never reaches upstream
//! and spends no budget; a repeated delivery does no harm.

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::{BodyExt, Limited};

use super::respond::{error_response, json_response};
use super::{Body, Gateway};
use crate::error::Refusal;
use crate::webhook::{self, MAX_BODY, SIGNATURE, WebhookSecret};

impl Gateway {
    pub(super) async fn webhook<B>(
        &self,
        secret: &WebhookSecret,
        headers: &HeaderMap,
        body: B,
    ) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (resp, event, result) = self.delivery(secret, headers, body).await;
        self.metrics.webhook(event, result);
        resp
    }

    async fn delivery<B>(
        &self,
        secret: &WebhookSecret,
        headers: &HeaderMap,
        body: B,
    ) -> (Response<Body>, &'static str, &'static str)
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let refuse = |r: Refusal, result| (error_response(&r.into()), "unknown", result);
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return refuse(Refusal::PayloadTooLarge, "too_large");
        }
        let bytes = match Limited::new(body, MAX_BODY).collect().await {
            Ok(c) => c.to_bytes(),
            Err(_) => return refuse(Refusal::PayloadTooLarge, "too_large"),
        };
        let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return refuse(Refusal::InvalidJson, "invalid_json");
        };
        // A rotated secret is used by the next delivery.
        secret.reload().await;
        let signature = headers
            .get(SIGNATURE)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !secret.verify(&bytes, signature) {
            tracing::warn!("webhook delivery with a missing or wrong signature refused");
            return refuse(Refusal::InvalidSignature, "invalid_signature");
        }
        let event = webhook::event(&payload);
        self.invalidate(&event.groups, "webhook").await;
        tracing::info!(event = event.kind, groups = ?event.groups, "webhook delivery");
        let ok = json_response(StatusCode::OK, Bytes::from_static(b"{\"success\": true}"));
        (ok, event.kind, "ok")
    }
}
