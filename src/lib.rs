//! riskgraph: a GraphQL service for risk registers.
//!
//! `app` builds the service from a `Config`; `graphql` is the API over
//! `domain` (rules, no I/O) and `store` (the database); `web` is HTTP.

pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod feed;
pub mod graphql;
pub mod store;
pub mod web;
