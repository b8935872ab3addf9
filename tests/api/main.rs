//! Black-box tests: the real app on a random port, over HTTP, each test on
//! SQLite and on PostgreSQL.

mod helpers;
mod postgres;

mod api_keys;
mod auth;
mod breakdowns;
mod browser;
mod bulk;
mod bulk_edits;
mod controls;
mod custom_fields;
mod errors;
mod faults;
mod filters;
mod first_run;
mod fixtures;
mod hardening;
mod heatmaps;
mod imports;
mod layers;
mod members;
mod multiplex;
mod operations;
mod pages;
mod pagination;
mod reference;
mod registers;
mod risks;
mod scale;
mod schema;
mod severities;
mod statistics;
mod subscriptions;
mod ws_client;
