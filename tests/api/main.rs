//! Integration tests: the real gateway over HTTP, in front of the simulated
//! Altur API that records what it received.

mod access_log;
mod binary;
mod budget;
mod caching;
mod callers;
mod config_refusals;
mod connections;
mod failures;
mod fairness_property;
mod fleet;
mod fleet_writes;
mod freshness;
mod helpers;
mod hostile;
mod hostile_redis;
mod limiter_property;
mod operations;
mod process;
mod reads;
mod redaction;
mod redis_budget;
mod redis_server;
mod reload;
mod rough_edges;
mod routing;
mod status_page;
mod traces;
mod webhook;
mod writes;
