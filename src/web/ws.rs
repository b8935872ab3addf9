//! GraphQL over WebSocket: `graphql-transport-ws` to the letter (clients
//! retry or give up by close code, so the codes are the protocol's:
//! 4400 invalid message, 4401 subscribe before ack, 4403 forbidden, 4408 no
//! connection_init in time, 4409 duplicate id, 4429 second init; and
//! WebSocket's own 1009 for a message larger than a request's body), and the
//! legacy `graphql-ws` for older clients.

use super::graphql_http::{authenticate, authenticate_key, operation_name, params, precheck};
use super::metrics;
use super::multiplex::{self, Membership, Outcome};
use super::serve::ConnectionSlot;
use super::state::AppState;
use crate::auth::{Principal, bearer};
use crate::clock::Clock;
use crate::error::AppError;
use async_graphql::parser::types::OperationType;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_channel::mpsc;
use futures_util::stream::BoxStream;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tracing::Instrument;

const TRANSPORT_WS: &str = "graphql-transport-ws";
const LEGACY_WS: &str = "graphql-ws";
/// Bytes a socket's read buffer starts with; a larger frame grows it.
const SOCKET_BUFFER: usize = 512;

/// Upgrades to a WebSocket that keeps its connection's place (`slot`) while
/// it lives.
pub fn upgrade(state: AppState, ws: WebSocketUpgrade, slot: Option<ConnectionSlot>) -> Response {
    // Frames here are small, and thousands of sockets sit idle: buffers
    // sized for them, not tungstenite's 128 KiB each way by default. A
    // message may be as large as a request's body over HTTP, not the 64 MiB
    // tungstenite would read into memory.
    let most = state.config.limits.max_body_bytes;
    ws.protocols([TRANSPORT_WS, LEGACY_WS])
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(0)
        .max_message_size(most)
        .max_frame_size(most)
        .on_upgrade(move |socket| {
            let legacy = socket
                .protocol()
                .is_some_and(|p| p.as_bytes() == LEGACY_WS.as_bytes());
            // The socket's log lines carry its request's id.
            let span = tracing::Span::current();
            let (sink, stream) = socket.split();
            Connection::new(state, legacy, sink)
                .run(stream, slot)
                .instrument(span)
        })
}

/// A client frame of either protocol; anything else, or a frame missing
/// what its type needs, is an invalid message.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    ConnectionInit {
        #[serde(default)]
        payload: Value,
    },
    Ping {
        payload: Option<Value>,
    },
    Pong {},
    /// graphql-transport-ws.
    Subscribe {
        id: String,
        payload: Map<String, Value>,
    },
    /// graphql-ws.
    Start {
        id: String,
        payload: Map<String, Value>,
    },
    /// graphql-transport-ws.
    Complete {
        id: String,
    },
    /// graphql-ws.
    Stop {
        id: String,
    },
    /// graphql-ws.
    ConnectionTerminate {},
}

/// A server frame of either protocol.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerFrame<'a> {
    ConnectionAck,
    Ping,
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<Value>,
    },
    /// graphql-ws's keep-alive.
    Ka,
    /// A result (graphql-transport-ws).
    Next {
        id: &'a str,
        payload: &'a RawValue,
    },
    /// A result (graphql-ws).
    Data {
        id: &'a str,
        payload: &'a RawValue,
    },
    /// The operation failed before it ran; `payload` is its errors.
    Error {
        id: &'a str,
        payload: &'a RawValue,
    },
    Complete {
        id: &'a str,
    },
}

impl<'a> ServerFrame<'a> {
    /// The frame of a result for subscription `id`: `error` if it was
    /// refused before it ran, else `next` (or legacy `data`).
    fn result(id: &'a str, legacy: bool, outcome: &'a Outcome) -> Self {
        let payload = &*outcome.json;
        if outcome.refused {
            ServerFrame::Error { id, payload }
        } else if legacy {
            ServerFrame::Data { id, payload }
        } else {
            ServerFrame::Next { id, payload }
        }
    }

    fn text(&self) -> Utf8Bytes {
        serde_json::to_string(self).unwrap_or_default().into()
    }

    fn message(&self) -> Message {
        Message::Text(self.text())
    }
}

/// The socket's sending half, shared by the connection and its operations'
/// tasks: each writes its own frames, so a push wakes one task a socket,
/// not an operation's and then the connection's.
type Writer = Arc<tokio::sync::Mutex<SplitSink<WebSocket, Message>>>;

/// Where an operation's task sends its frames, and says it has finished.
struct Outbox {
    id: String,
    legacy: bool,
    writer: Writer,
    finishing: mpsc::UnboundedSender<String>,
}

/// The socket is gone.
struct Gone;

impl Outbox {
    async fn deliver(&mut self, message: Message) -> Result<(), Gone> {
        self.writer
            .lock()
            .await
            .send(message)
            .await
            .map_err(|_| Gone)
    }

    /// A result: an `error` frame if it was refused before it ran, which
    /// ends the operation without `complete`.
    async fn result(&mut self, outcome: &Outcome) -> Result<(), Gone> {
        let text = match outcome.framed.get() {
            Some((id, legacy, text)) if *id == self.id && *legacy == self.legacy => text.clone(),
            _ => {
                let text = ServerFrame::result(&self.id, self.legacy, outcome).text();
                // Only the first framing is kept: the others differ in id.
                let _ = outcome
                    .framed
                    .set((self.id.clone(), self.legacy, text.clone()));
                text
            }
        };
        self.deliver(Message::Text(text)).await
    }

    /// The operation is over: `complete`, unless it was refused.
    async fn finish(mut self, refused: bool) {
        if !refused {
            let complete = ServerFrame::Complete { id: &self.id }.message();
            let _ = self.deliver(complete).await;
        }
        // The connection outlives its operations' tasks, or aborts them.
        let _ = self.finishing.unbounded_send(self.id);
    }
}

/// Why the connection closes.
struct Close(u16, &'static str);

struct Connection {
    state: AppState,
    legacy: bool,
    principal: Option<Principal>,
    subscriptions: HashMap<String, JoinHandle<()>>,
    writer: Writer,
    /// Where operations say they have finished, and where their ids come.
    finishing: mpsc::UnboundedSender<String>,
    finished: mpsc::UnboundedReceiver<String>,
}

/// The token of a connection_init payload: `{"Authorization": "Bearer …"}` or
/// `{"token": "…"}`.
fn token_of(payload: &Value) -> Option<&str> {
    let by_header = ["Authorization", "authorization"]
        .iter()
        .find_map(|k| payload.get(k).and_then(Value::as_str))
        .and_then(bearer);
    by_header.or_else(|| payload.get("token").and_then(Value::as_str))
}

impl Connection {
    fn new(state: AppState, legacy: bool, sink: SplitSink<WebSocket, Message>) -> Self {
        // A slow client holds its operations back at the socket, and their
        // subscriptions catch up from the table instead of growing memory
        // here. futures-channel allocates a node per message (one an
        // operation); tokio's channel allocates 32 slots up front, 2 KiB for
        // each of thousands of idle sockets.
        let (finishing, finished) = mpsc::unbounded();
        Self {
            state,
            legacy,
            principal: None,
            subscriptions: HashMap::new(),
            writer: Arc::new(tokio::sync::Mutex::new(sink)),
            finishing,
            finished,
        }
    }

    /// Sends a frame of the connection's own, after what its operations
    /// have queued. A client that reads nothing holds them, and this one,
    /// back: it is gone once three keep-alive intervals pass, as a client
    /// that answers nothing is.
    async fn send(&self, message: Message) -> Result<(), Gone> {
        let patience = self.state.config.limits.ws_keepalive() * 3;
        let sent = async { self.writer.lock().await.send(message).await };
        match tokio::time::timeout(patience, sent).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        }
    }

    /// How long the signed-in token has left, leeway included; None before
    /// sign-in. Wall time, not the app's clock: it sets a real timer.
    fn token_left(&self) -> Option<Duration> {
        let principal = self.principal.as_ref()?;
        let leeway = i64::try_from(self.state.config.jwt_leeway_secs).unwrap_or(0);
        let left = principal.expires_at + leeway - Clock::default().now().timestamp();
        let far = Duration::from_secs(365 * 86400);
        Some(Duration::from_secs(u64::try_from(left).unwrap_or(0)).min(far))
    }

    /// Serves the socket until it closes, holding the connection's place
    /// (`slot`) until then.
    ///
    /// Not an `async fn`: one keeps a copy of its arguments beside the
    /// originals for its whole life, where an `async move` block uses the
    /// captured ones in place. With that, one timer for both deadlines and
    /// no wrapping block around it, every socket's task went from 3,360 to
    /// 1,808 bytes (`-Zprint-type-sizes`).
    #[expect(clippy::manual_async_fn, reason = "an async fn doubles its arguments")]
    fn run(
        mut self,
        mut socket: SplitStream<WebSocket>,
        slot: Option<ConnectionSlot>,
    ) -> impl Future<Output = ()> + Send + 'static {
        async move {
            let _open = metrics::Held::new(metrics::WEBSOCKETS);
            let keepalive_every = self.state.config.limits.ws_keepalive();
            // Before sign-in, when the socket must have sent connection_init;
            // after, when its token expires.
            let deadline = tokio::time::sleep(self.state.config.limits.ws_init_timeout());
            tokio::pin!(deadline);
            let mut keepalive = tokio::time::interval(keepalive_every);
            keepalive.tick().await;
            let mut shutdown = self.state.shutdown.clone();
            let mut last_heard = Instant::now();
            let mut revocations = self.state.feed.revocations();

            let close = 'serve: loop {
                tokio::select! {
                    message = socket.next() => {
                        let message = match message {
                            Some(Ok(message)) => message,
                            Some(Err(err)) if too_big(&err) => break Some(Close(1009, "Message too big")),
                            _ => break None,
                        };
                        last_heard = Instant::now();
                        let text = match message {
                            Message::Text(text) => text,
                            Message::Close(_) => break None,
                            Message::Ping(_) | Message::Pong(_) => continue,
                            Message::Binary(_) => break Some(Close(4400, "Invalid message received")),
                        };
                        // Boxed, as `end_all` below: the future of a message's
                        // handling (sign-in reads the database) would otherwise
                        // be part of every idle connection's task, 10 KiB of its
                        // 11.
                        let signed_in = self.principal.is_some();
                        match Box::pin(self.handle(text.as_str())).await {
                            Ok(replies) => {
                                for reply in replies {
                                    if self.send(reply).await.is_err() {
                                        break 'serve None;
                                    }
                                }
                                // A socket signs in once: from then on the
                                // deadline is its token's expiry.
                                if let (false, Some(left)) = (signed_in, self.token_left()) {
                                    deadline.as_mut().reset(tokio::time::Instant::now() + left);
                                }
                            }
                            Err(close) => break Some(close),
                        }
                    }
                    Some(id) = self.finished.next() => {
                        self.subscriptions.remove(&id);
                    }
                    () = &mut deadline => {
                        if self.principal.is_none() {
                            break Some(Close(4408, "Connection initialisation timeout"));
                        }
                        let why = ("the token has expired", "Forbidden: the token has expired");
                        break Some(Box::pin(self.end_all(why)).await);
                    }
                    revoked = revocations.recv(), if self.api_key().is_some() => {
                        // A lagging receiver missed ids; revocations are rare
                        // enough that 64 in flight do not happen.
                        if revoked.ok().as_deref() == self.api_key() {
                            let why = ("the API key was revoked", "Forbidden: the API key was revoked");
                            break Some(Box::pin(self.end_all(why)).await);
                        }
                    }
                    _ = keepalive.tick() => {
                        if last_heard.elapsed() > keepalive_every * 3 {
                            // A client that answers nothing is gone.
                            break None;
                        }
                        let ping = if self.legacy { ServerFrame::Ka } else { ServerFrame::Ping };
                        if self.send(ping.message()).await.is_err() {
                            break None;
                        }
                    }
                    _ = shutdown.changed() => break Some(Close(1001, "server shutting down")),
                }
            };
            for (_, task) in self.subscriptions.drain() {
                task.abort();
            }
            if let Some(Close(code, reason)) = close {
                let frame = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ = self.send(Message::Close(Some(frame))).await;
            }
            drop(slot);
        }
    }

    /// The API key the socket signed in with, if it did.
    fn api_key(&self) -> Option<&str> {
        self.principal.as_ref()?.api_key.as_deref()
    }

    /// The caller may no longer: every subscription ends with an
    /// UNAUTHENTICATED error saying why, and then the socket (4403).
    async fn end_all(&mut self, (why, reason): (&'static str, &'static str)) -> Close {
        let ids: Vec<String> = self.subscriptions.keys().cloned().collect();
        for id in ids {
            self.stop(&id);
            let refused = AppError::Unauthenticated(why.into());
            let _ = self.send(failed(&id, refused)).await;
        }
        Close(4403, reason)
    }

    fn stop(&mut self, id: &str) {
        if let Some(task) = self.subscriptions.remove(id) {
            task.abort();
        }
    }

    /// Handles one client message: the replies to send, or why to close.
    async fn handle(&mut self, text: &str) -> Result<Vec<Message>, Close> {
        let invalid = || Close(4400, "Invalid message received");
        let frame: ClientFrame = serde_json::from_str(text).map_err(|_| invalid())?;
        match (frame, self.legacy) {
            (ClientFrame::ConnectionInit { payload }, _) => {
                if self.principal.is_some() {
                    return Err(Close(4429, "Too many initialisation requests"));
                }
                let signed_in = match payload.get("apiKey").and_then(Value::as_str) {
                    Some(secret) => authenticate_key(&self.state, secret).await,
                    None => authenticate(&self.state, token_of(&payload)).await,
                };
                match signed_in {
                    Ok(principal) => {
                        self.principal = Some(principal);
                        let mut replies = vec![ServerFrame::ConnectionAck.message()];
                        if self.legacy {
                            replies.push(ServerFrame::Ka.message());
                        }
                        Ok(replies)
                    }
                    Err(_) => Err(Close(4403, "Forbidden")),
                }
            }
            (ClientFrame::Ping { payload }, false) => {
                Ok(vec![ServerFrame::Pong { payload }.message()])
            }
            (ClientFrame::Pong {}, false) => Ok(Vec::new()),
            (ClientFrame::Subscribe { id, payload }, false)
            | (ClientFrame::Start { id, payload }, true) => {
                let Some(principal) = self.principal.clone() else {
                    return Err(Close(4401, "Unauthorized"));
                };
                if self.subscriptions.contains_key(&id) {
                    return Err(Close(4409, "Subscriber for this id already exists"));
                }
                let most = self.state.config.limits.ws_max_operations;
                if self.subscriptions.len() >= most {
                    let err = AppError::LimitExceeded(format!(
                        "a socket may run at most {most} operations at once"
                    ));
                    metrics::refused(&err);
                    return Ok(vec![failed(&id, err)]);
                }
                Ok(self.start(id, principal, payload).into_iter().collect())
            }
            (ClientFrame::Complete { id }, false) | (ClientFrame::Stop { id }, true) => {
                self.stop(&id);
                Ok(Vec::new())
            }
            (ClientFrame::ConnectionTerminate {}, true) => Err(Close(1000, "terminated")),
            _ => Err(invalid()),
        }
    }

    /// Starts an operation; a reply when it fails before it starts.
    fn start(
        &mut self,
        id: String,
        principal: Principal,
        payload: Map<String, Value>,
    ) -> Option<Message> {
        let mut request = match params(Value::Object(payload)) {
            Ok(request) => request,
            Err((field, message)) => return Some(failed(&id, AppError::bad_input(field, message))),
        };
        let kind = match precheck(&self.state, &mut request, false) {
            Ok(kind) => kind,
            Err((_, err)) => {
                metrics::refused(&err);
                return Some(failed(&id, err));
            }
        };
        let mut outbox = Outbox {
            id: id.clone(),
            legacy: self.legacy,
            writer: self.writer.clone(),
            finishing: self.finishing.clone(),
        };
        let task = if kind == Some(OperationType::Subscription) {
            let membership = self.state.multiplex.join(&self.state, &principal, request);
            tokio::spawn(follow(self.state.clone(), membership, outbox))
        } else {
            let stream = multiplex::execute(&self.state, &principal, request);
            let feed = self.state.feed.clone();
            let mutates = kind == Some(OperationType::Mutation);
            let started = Instant::now();
            tokio::spawn(async move {
                let refused = answer(stream, &mut outbox, Some((kind, started))).await;
                if mutates {
                    feed.committed();
                }
                outbox.finish(refused == Some(true)).await;
            })
        };
        self.subscriptions.insert(id, task);
        None
    }
}

/// Sends each result of `stream`; `timed`, when the first one is the
/// operation's answer, for its metrics. Whether it was refused before it
/// ran, or None if the socket is gone.
async fn answer(
    mut stream: BoxStream<'static, async_graphql::Response>,
    outbox: &mut Outbox,
    timed: Option<(Option<OperationType>, Instant)>,
) -> Option<bool> {
    let mut timed = timed;
    while let Some(response) = stream.next().await {
        let outcome = Outcome::of(response);
        // Only a subscription answers more than once.
        match timed.take() {
            Some((kind, started)) => {
                let took = Some(started.elapsed());
                metrics::operation(operation_name(kind), outcome.code.as_deref(), took);
            }
            None => metrics::subscription_result(),
        }
        outbox.result(&outcome).await.ok()?;
        if outcome.refused {
            return Some(true);
        }
    }
    Some(false)
}

/// A subscriber of a shared execution: sends its results as they come, and
/// continues alone from its last event if it falls behind.
///
/// Not an `async fn`, for the reason `Connection::run` gives.
#[expect(clippy::manual_async_fn, reason = "an async fn doubles its arguments")]
fn follow(
    state: AppState,
    mut membership: Membership,
    mut outbox: Outbox,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        let _active = metrics::Held::new(metrics::SUBSCRIPTIONS);
        let mut first = true;
        let mut last = None;
        let mut pending = membership.first.take();
        let refused = loop {
            let received = match pending.take() {
                Some(frame) => Ok(frame),
                None => membership.frames.recv().await,
            };
            let frame = match received {
                Ok(frame) => frame,
                Err(broadcast::error::RecvError::Closed) => break false,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let alone = membership.channel.alone(&state, last);
                    drop(membership);
                    // Boxed: only a subscriber that fell behind needs its state.
                    let refused = match alone {
                        Ok(stream) => Box::pin(answer(stream, &mut outbox, None)).await,
                        Err(err) => {
                            let refusal = Outcome::refusal(err);
                            outbox.result(&refusal).await.ok().map(|()| true)
                        }
                    };
                    match refused {
                        Some(refused) => break refused,
                        None => return,
                    }
                }
            };
            if first {
                let kind = operation_name(Some(OperationType::Subscription));
                metrics::operation(kind, frame.outcome.code.as_deref(), None);
                first = false;
            }
            if outbox.result(&frame.outcome).await.is_err() {
                return;
            }
            if frame.outcome.refused {
                break true;
            }
            last = frame.seq.or(last);
        };
        outbox.finish(refused).await;
    }
}

/// Whether a read failed on a message larger than the socket takes.
fn too_big(err: &axum::Error) -> bool {
    std::error::Error::source(err)
        .and_then(|err| err.downcast_ref::<tungstenite::Error>())
        .is_some_and(|err| matches!(err, tungstenite::Error::Capacity(_)))
}

/// The error frame of an operation refused before it ran.
fn failed(id: &str, err: AppError) -> Message {
    ServerFrame::result(id, false, &Outcome::refusal(err)).message()
}
