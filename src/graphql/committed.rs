//! Tells the change feed when a mutation has finished, so it reads the
//! table at once instead of waiting for its poll. The store cannot: it sits
//! below the feed, and the feed must look only after the commit.

use super::Services;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Response, ServerResult, Variables};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct WakeFeed;

impl ExtensionFactory for WakeFeed {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Wake::default())
    }
}

#[derive(Default)]
struct Wake {
    mutation: AtomicBool,
}

#[async_trait::async_trait]
impl Extension for Wake {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let mutation = document
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Mutation);
        self.mutation.store(mutation, Ordering::Relaxed);
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        if self.mutation.load(Ordering::Relaxed)
            && let Some(services) = ctx.data_opt::<Services>()
        {
            services.feed.committed();
        }
        response
    }
}
