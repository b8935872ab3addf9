//! HTTP: GraphQL over HTTP, GraphiQL, and health endpoints.

pub mod graphql_http;
pub mod health;
pub mod limits;
pub mod refusals;
pub mod serve;
pub mod state;
pub mod text;
pub mod ws;
