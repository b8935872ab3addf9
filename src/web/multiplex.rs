//! Identical subscriptions share one execution: a thousand dashboards on
//! the same heatmap cost one heatmap query and one serialization per change,
//! not a thousand. Each socket only wraps the shared result in its own frame.
//!
//! Subscriptions are identical when their document, operation name and
//! variables are, for the same organization and role: resolvers see no more
//! of the caller than that. A newcomer joins a running execution only while
//! what it sends next is what the newcomer would get alone: before its first
//! result, or once it is live (see `graphql::subscriptions::Progress`). A
//! subscriber that falls behind leaves it and continues alone from its last
//! event, as a subscriber of the feed catches up from the table.

use super::graphql_http::{precheck, shape, with_context};
use super::metrics;
use super::state::AppState;
use crate::auth::Principal;
use crate::domain::enums::Role;
use crate::error::AppError;
use crate::graphql::loaders::Loaders;
use crate::graphql::subscriptions::{Progress, Resume};
use async_graphql::{Request, Response, Variables};
use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

/// Results an execution keeps for a subscriber that is slow to take them,
/// beyond the 256 frames its socket's outbox holds; one further behind
/// continues alone. Small: an execution allocates its slots up front, and
/// many run for one subscriber each.
const BACKLOG: usize = 4;

/// A result, serialized once for every socket it goes to.
pub struct Outcome {
    /// The answer's JSON, or its errors' when the operation was refused
    /// before it ran.
    pub json: Box<RawValue>,
    /// The code of its first error.
    pub code: Option<String>,
    /// Refused before it ran: sent as an `error` frame, which ends it.
    pub refused: bool,
    /// The whole frame as the first socket to send it framed it (its
    /// subscription's id and protocol), for every other socket whose
    /// subscription has the same: most clients number their first "1".
    pub framed: OnceLock<(String, bool, Utf8Bytes)>,
}

impl Outcome {
    pub fn of(response: Response) -> Self {
        let (answer, refused) = shape(response);
        let code = answer.code().map(str::to_owned);
        let json = if refused {
            raw(&answer.errors)
        } else {
            raw(&answer)
        };
        Self {
            json,
            code,
            refused,
            framed: OnceLock::new(),
        }
    }

    /// An operation refused before it ran.
    pub fn refusal(err: AppError) -> Self {
        let code = Some(err.code().to_owned());
        let err: async_graphql::Error = err.into();
        Self {
            json: raw(&[err]),
            code,
            refused: true,
            framed: OnceLock::new(),
        }
    }
}

fn raw(value: &impl serde::Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// One result of an execution, for each of its subscribers.
#[derive(Clone)]
pub struct Frame {
    /// The last event the execution had read when it answered: where a
    /// subscriber continues if it falls behind.
    pub seq: Option<i64>,
    pub outcome: Arc<Outcome>,
}

/// What makes two subscriptions identical.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    org_id: String,
    role: Role,
    query: String,
    operation_name: Option<String>,
    variables: String,
}

/// Keys are shared with their channels: one copy of the operation each.
type Channels = Mutex<HashMap<Arc<Key>, Weak<Channel>>>;

/// The process's running subscriptions, by what they run.
#[derive(Default)]
pub struct Multiplexer {
    channels: Arc<Channels>,
}

/// A subscriber's place in an execution.
pub struct Membership {
    pub channel: Arc<Channel>,
    pub frames: broadcast::Receiver<Frame>,
    /// The latest state, for a newcomer to a snapshot.
    pub first: Option<Frame>,
}

impl Multiplexer {
    /// Joins the running execution of the same subscription, or starts one.
    /// `request` has passed `precheck`.
    pub fn join(&self, state: &AppState, principal: &Principal, request: Request) -> Membership {
        let key = Arc::new(Key {
            org_id: principal.org_id.clone(),
            role: principal.role,
            variables: serde_json::to_string(&request.variables).unwrap_or_default(),
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
        });
        // Taken out before joining: the last handle to a channel may be
        // dropped here, and its `Drop` takes the lock.
        let running = lock(&self.channels).get(&key).and_then(Weak::upgrade);
        if let Some(membership) = running.and_then(Channel::enter) {
            return membership;
        }
        let membership = Channel::start(state, principal, request, key.clone(), &self.channels);
        lock(&self.channels).insert(key, Arc::downgrade(&membership.channel));
        membership
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One execution and its subscribers, who hold it: it stops when the last
/// one leaves.
pub struct Channel {
    key: Arc<Key>,
    principal: Principal,
    channels: Weak<Channels>,
    shared: Arc<Shared>,
    task: AbortHandle,
}

/// What the execution's task and its subscribers share.
struct Shared {
    progress: Arc<Progress>,
    state: Mutex<State>,
}

struct State {
    /// None once the execution has ended: its subscribers get what was
    /// sent, then the end.
    sender: Option<broadcast::Sender<Frame>>,
    latest: Option<Frame>,
    answered: bool,
}

impl Channel {
    /// Starts the execution, with its first subscriber: joined before the
    /// task can run, so that even an execution that ends at once (a request
    /// error) is seen whole.
    fn start(
        state: &AppState,
        principal: &Principal,
        request: Request,
        key: Arc<Key>,
        channels: &Arc<Channels>,
    ) -> Membership {
        let progress = Arc::new(Progress::default());
        let stream = execute(state, principal, request.data(progress.clone()));
        let (sender, frames) = broadcast::channel(BACKLOG);
        let shared = Arc::new(Shared {
            progress,
            state: Mutex::new(State {
                sender: Some(sender),
                latest: None,
                answered: false,
            }),
        });
        let task = tokio::spawn(run(shared.clone(), stream)).abort_handle();
        let channel = Arc::new(Self {
            key,
            principal: principal.clone(),
            channels: Arc::downgrade(channels),
            shared,
            task,
        });
        Membership {
            channel,
            frames,
            first: None,
        }
    }

    /// A new subscriber, if what the execution sends from now on is what it
    /// would get alone.
    fn enter(self: Arc<Self>) -> Option<Membership> {
        let state = lock(&self.shared.state);
        let sender = state.sender.as_ref()?;
        let progress = &self.shared.progress;
        if state.answered && !progress.is_live() {
            return None;
        }
        let frames = sender.subscribe();
        let first = state.latest.clone().filter(|_| progress.is_snapshot());
        drop(state);
        Some(Membership {
            channel: self,
            frames,
            first,
        })
    }

    /// The same subscription run for one subscriber, from after `seq`: for
    /// one that fell behind the shared execution.
    pub fn alone(
        &self,
        state: &AppState,
        seq: Option<i64>,
    ) -> Result<BoxStream<'static, Response>, AppError> {
        let variables = serde_json::from_str(&self.key.variables).unwrap_or_default();
        let mut request =
            Request::new(self.key.query.clone()).variables(Variables::from_json(variables));
        if let Some(name) = &self.key.operation_name {
            request = request.operation_name(name.clone());
        }
        precheck(state, &mut request, false).map_err(|(_, err)| err)?;
        if let Some(seq) = seq {
            request = request.data(Resume(seq));
        }
        Ok(execute(state, &self.principal, request))
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(channels) = self.channels.upgrade() {
            let mut channels = lock(&channels);
            // Another execution of the same key may have taken the place.
            if channels
                .get(&self.key)
                .is_some_and(|c| c.strong_count() == 0)
            {
                channels.remove(&self.key);
            }
        }
    }
}

/// Runs `request` as `principal`, as a subscription does: without a cache,
/// since each event must read the rows as they are then.
pub fn execute(
    state: &AppState,
    principal: &Principal,
    request: Request,
) -> BoxStream<'static, Response> {
    let loaders = Loaders::uncached(&state.reader, &principal.org_id);
    state
        .schema
        .execute_stream(with_context(request, principal, loaders))
        .boxed()
}

/// Resolves and serializes each result once, and hands it to every
/// subscriber.
async fn run(shared: Arc<Shared>, mut stream: BoxStream<'static, Response>) {
    let _running = metrics::Held::new(metrics::EXECUTIONS);
    while let Some(response) = stream.next().await {
        metrics::subscription_result();
        let frame = Frame {
            seq: shared.progress.seq(),
            outcome: Arc::new(Outcome::of(response)),
        };
        let mut state = lock(&shared.state);
        state.answered = true;
        if shared.progress.is_snapshot() {
            state.latest = Some(frame.clone());
        }
        if let Some(sender) = &state.sender {
            // No subscriber left is fine: the last one's leaving stops this.
            let _ = sender.send(frame);
        }
    }
    lock(&shared.state).sender = None;
}
