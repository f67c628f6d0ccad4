//! Integration tests: the real gateway over HTTP, in front of the simulated
//! Altur API that records what it received.

mod budget;
mod caching;
mod callers;
mod config_refusals;
mod connections;
mod failures;
mod fairness_property;
mod fleet;
mod helpers;
mod hostile;
mod hostile_redis;
mod limiter_property;
mod operations;
mod process;
mod reads;
mod redis_budget;
mod redis_server;
mod routing;
mod writes;
