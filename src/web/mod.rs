//! HTTP: GraphQL over HTTP and WebSocket, the dashboard and GraphiQL pages,
//! the heatmap image, the CSV export, and health endpoints.

pub mod escapes;
pub mod export;
pub mod graphql_http;
pub mod health;
pub mod heatmap_svg;
pub mod int_inputs;
pub mod limits;
pub mod list_items;
pub mod metrics;
pub mod multiplex;
pub mod pages;
pub mod refusals;
pub mod serve;
pub mod state;
pub mod text;
pub mod ws;
