//! servscore scores every customer-service interaction against the service standard of its
//! customer tier and channel (politeness, speed, follow-through) and keeps OEC daily rollups
//! per staff member and team (日事日毕，日清日高).
//!
//! # Layout
//!
//! - `proto/servscore/v1/` — the wire API; [`proto`] holds the generated code and the
//!   embedded descriptor set.
//! - [`config`] — layered configuration and its validation.
//! - [`server`] — [`server::run`]: the gRPC server, reflection, health and `/metrics`, on
//!   listeners the caller bound, until a shutdown future resolves.
//! - [`api`] — gRPC handlers (thin: validate, call, map errors).
//! - [`ops`] — metrics, the per-RPC tower layer, health, logging, shutdown signals.

pub mod api;
pub mod app;
pub mod builtin;
pub mod config;
pub mod convert;
pub mod corpus;
pub mod domain;
pub mod fuzzing;
pub mod loadbench;
pub mod offline;
pub mod ops;
pub mod proto;
pub mod rollup;
pub mod scoring;
pub mod server;
pub mod service;
pub mod storage;
