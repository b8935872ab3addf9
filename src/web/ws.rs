//! GraphQL over WebSocket: `graphql-transport-ws` to the letter (clients
//! retry or give up by close code, so the codes are the protocol's:
//! 4400 invalid message, 4401 subscribe before ack, 4403 forbidden, 4408 no
//! connection_init in time, 4409 duplicate id, 4429 second init), and the
//! legacy `graphql-ws` for older clients.

use super::graphql_http::{
    Answer, authenticate, authenticate_key, operation_name, params, precheck, shape, with_context,
};
use super::metrics;
use super::serve::ConnectionSlot;
use super::state::AppState;
use crate::auth::{Principal, bearer};
use crate::clock::Clock;
use crate::error::AppError;
use crate::graphql::loaders::Loaders;
use async_graphql::parser::types::OperationType;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_channel::mpsc;
use futures_util::SinkExt;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tracing::Instrument;

const TRANSPORT_WS: &str = "graphql-transport-ws";
const LEGACY_WS: &str = "graphql-ws";
/// Bytes a socket's read buffer starts with; a larger frame grows it.
const SOCKET_BUFFER: usize = 1024;

/// Upgrades to a WebSocket that keeps its connection's place (`slot`) while
/// it lives.
pub fn upgrade(state: AppState, ws: WebSocketUpgrade, slot: Option<ConnectionSlot>) -> Response {
    // Frames here are small, and thousands of sockets sit idle: buffers
    // sized for them, not tungstenite's 128 KiB each way by default.
    ws.protocols([TRANSPORT_WS, LEGACY_WS])
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            let legacy = socket
                .protocol()
                .is_some_and(|p| p.as_bytes() == LEGACY_WS.as_bytes());
            // The socket's log lines carry its request's id.
            let span = tracing::Span::current();
            async move {
                let _slot = slot;
                Connection::new(state, legacy).run(socket).await;
            }
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
enum ServerFrame {
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
        id: String,
        payload: Answer,
    },
    /// A result (graphql-ws).
    Data {
        id: String,
        payload: Answer,
    },
    /// The operation failed before it ran; `payload` is its errors.
    Error {
        id: String,
        payload: Value,
    },
    Complete {
        id: String,
    },
}

impl ServerFrame {
    fn message(&self) -> Message {
        Message::Text(serde_json::to_string(self).unwrap_or_default().into())
    }
}

/// What subscription tasks hand the connection to send.
enum Outgoing {
    /// A frame, serialized by the task that made it: a few bytes a slot
    /// while it waits, however large the frame's JSON.
    Frame(Message),
    Finished(String),
}

/// Why the connection closes.
struct Close(u16, &'static str);

struct Connection {
    state: AppState,
    legacy: bool,
    principal: Option<Principal>,
    subscriptions: HashMap<String, JoinHandle<()>>,
    outgoing: mpsc::Sender<Outgoing>,
    incoming: mpsc::Receiver<Outgoing>,
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
    fn new(state: AppState, legacy: bool) -> Self {
        // Bounded: a slow client holds its subscriptions back, and they catch
        // up from the table instead of growing memory here. futures-channel
        // allocates a node per message; tokio's channel allocates 32 slots
        // up front, 2 KiB for each of thousands of idle sockets.
        let (outgoing, incoming) = mpsc::channel(256);
        Self {
            state,
            legacy,
            principal: None,
            subscriptions: HashMap::new(),
            outgoing,
            incoming,
        }
    }

    async fn run(mut self, mut socket: WebSocket) {
        let _open = metrics::Held::new(metrics::WEBSOCKETS);
        let limits = self.state.config.limits.clone();
        let init_deadline = tokio::time::sleep(limits.ws_init_timeout());
        tokio::pin!(init_deadline);
        let mut keepalive = tokio::time::interval(limits.ws_keepalive());
        keepalive.tick().await;
        let mut shutdown = self.state.shutdown.clone();
        let mut last_heard = Instant::now();
        let far = Duration::from_secs(365 * 86400);
        let mut revocations = self.state.feed.revocations();
        let expiry = tokio::time::sleep(far);
        tokio::pin!(expiry);

        let close = loop {
            tokio::select! {
                message = socket.recv() => {
                    let Some(Ok(message)) = message else { break None };
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
                    match Box::pin(self.handle(text.as_str())).await {
                        Ok(replies) => {
                            for reply in replies {
                                if socket.send(reply.message()).await.is_err() {
                                    break;
                                }
                            }
                            if let Some(p) = &self.principal {
                                let left = p.expires_at + limits_leeway(&self.state) - Clock::default().now().timestamp();
                                let left = Duration::from_secs(u64::try_from(left.max(0)).unwrap_or(0));
                                expiry.as_mut().reset(tokio::time::Instant::now() + left.min(far));
                            }
                        }
                        Err(close) => break Some(close),
                    }
                }
                Some(out) = self.incoming.next() => match out {
                    Outgoing::Frame(frame) => {
                        if socket.send(frame).await.is_err() {
                            break None;
                        }
                    }
                    Outgoing::Finished(id) => {
                        self.subscriptions.remove(&id);
                    }
                },
                () = &mut init_deadline, if self.principal.is_none() => {
                    break Some(Close(4408, "Connection initialisation timeout"));
                }
                () = &mut expiry, if self.principal.is_some() => {
                    let why = ("the token has expired", "Forbidden: the token has expired");
                    break Some(Box::pin(self.end_all(&mut socket, why)).await);
                }
                revoked = revocations.recv(), if self.api_key().is_some() => {
                    // A lagging receiver missed ids; revocations are rare
                    // enough that 64 in flight do not happen.
                    if revoked.ok().as_deref() == self.api_key() {
                        let why = ("the API key was revoked", "Forbidden: the API key was revoked");
                        break Some(Box::pin(self.end_all(&mut socket, why)).await);
                    }
                }
                _ = keepalive.tick() => {
                    if last_heard.elapsed() > limits.ws_keepalive() * 3 {
                        // A client that answers nothing is gone.
                        break None;
                    }
                    let ping = if self.legacy { ServerFrame::Ka } else { ServerFrame::Ping };
                    if socket.send(ping.message()).await.is_err() {
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
            let _ = socket.send(Message::Close(Some(frame))).await;
        }
    }

    /// The API key the socket signed in with, if it did.
    fn api_key(&self) -> Option<&str> {
        self.principal.as_ref()?.api_key.as_deref()
    }

    /// The caller may no longer: every subscription ends with an
    /// UNAUTHENTICATED error saying why, and then the socket (4403).
    async fn end_all(
        &mut self,
        socket: &mut WebSocket,
        (why, reason): (&'static str, &'static str),
    ) -> Close {
        let ids: Vec<String> = self.subscriptions.keys().cloned().collect();
        for id in ids {
            self.stop(&id);
            let refused = AppError::Unauthenticated(why.into());
            let _ = socket.send(failed(id, refused).message()).await;
        }
        Close(4403, reason)
    }

    fn stop(&mut self, id: &str) {
        if let Some(task) = self.subscriptions.remove(id) {
            task.abort();
        }
    }

    /// Handles one client message: the replies to send, or why to close.
    async fn handle(&mut self, text: &str) -> Result<Vec<ServerFrame>, Close> {
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
                        let mut replies = vec![ServerFrame::ConnectionAck];
                        if self.legacy {
                            replies.push(ServerFrame::Ka);
                        }
                        Ok(replies)
                    }
                    Err(_) => Err(Close(4403, "Forbidden")),
                }
            }
            (ClientFrame::Ping { payload }, false) => Ok(vec![ServerFrame::Pong { payload }]),
            (ClientFrame::Pong {}, false) => Ok(Vec::new()),
            (ClientFrame::Subscribe { id, payload }, false)
            | (ClientFrame::Start { id, payload }, true) => {
                let Some(principal) = self.principal.clone() else {
                    return Err(Close(4401, "Unauthorized"));
                };
                if self.subscriptions.contains_key(&id) {
                    return Err(Close(4409, "Subscriber for this id already exists"));
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
    ) -> Option<ServerFrame> {
        let mut request = match params(Value::Object(payload)) {
            Ok(request) => request,
            Err((field, message)) => return Some(failed(id, AppError::bad_input(field, message))),
        };
        let kind = match precheck(&self.state, &mut request, false) {
            Ok(kind) => kind,
            Err((_, err)) => {
                metrics::refused(&err);
                return Some(failed(id, err));
            }
        };
        let mutates = kind == Some(OperationType::Mutation);
        let subscription = kind == Some(OperationType::Subscription);
        // No cache: a subscription lives long, and each event must read the
        // rows as they are now.
        let loaders = Loaders::new(&self.state.reader, &principal.org_id).uncached();
        let request = with_context(request, &principal, loaders);
        let mut stream = self.state.schema.execute_stream(request);
        let mut outgoing = self.outgoing.clone();
        let legacy = self.legacy;
        let feed = self.state.feed.clone();
        let task_id = id.clone();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let _active = subscription.then(|| metrics::Held::new(metrics::SUBSCRIPTIONS));
            let id = task_id;
            let mut first = true;
            while let Some(response) = stream.next().await {
                let (body, request_error) = shape(response);
                if first {
                    let took = (!subscription).then(|| started.elapsed());
                    metrics::operation(operation_name(kind), body.code(), took);
                }
                let frame = if first && request_error {
                    ServerFrame::Error {
                        id: id.clone(),
                        payload: Value::Array(body.errors),
                    }
                } else if legacy {
                    ServerFrame::Data {
                        id: id.clone(),
                        payload: body,
                    }
                } else {
                    ServerFrame::Next {
                        id: id.clone(),
                        payload: body,
                    }
                };
                if outgoing
                    .send(Outgoing::Frame(frame.message()))
                    .await
                    .is_err()
                {
                    return;
                }
                if first && request_error {
                    let _ = outgoing.send(Outgoing::Finished(id)).await;
                    return;
                }
                first = false;
            }
            if mutates {
                feed.committed();
            }
            let complete = ServerFrame::Complete { id: id.clone() };
            let _ = outgoing.send(Outgoing::Frame(complete.message())).await;
            let _ = outgoing.send(Outgoing::Finished(id)).await;
        });
        self.subscriptions.insert(id, task);
        None
    }
}

/// The error frame of an operation refused before it ran.
fn failed(id: String, err: AppError) -> ServerFrame {
    let err: async_graphql::Error = err.into();
    ServerFrame::Error {
        id,
        payload: json!([err]),
    }
}

fn limits_leeway(state: &AppState) -> i64 {
    i64::try_from(state.config.jwt_leeway_secs).unwrap_or(0)
}
