//! A graphql-transport-ws (or legacy graphql-ws) client for the tests.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a message before it fails.
const PATIENCE: Duration = Duration::from_secs(15);

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the server did next.
#[derive(Debug)]
pub enum Received {
    Message(Value),
    Closed(Option<u16>),
}

impl WsClient {
    pub async fn connect(url: &str, protocol: &str) -> Self {
        let mut request = url.into_client_request().expect("a ws url");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(protocol).expect("header"),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("connects");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol)
        );
        Self { socket }
    }

    /// Connects with graphql-transport-ws and a token, and waits for the ack.
    pub async fn signed_in(url: &str, token: &str) -> Self {
        let mut client = Self::connect(url, "graphql-transport-ws").await;
        client
            .send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }))
            .await;
        let ack = client.message().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        client
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("sent");
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "type": "subscribe", "id": id, "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next protocol message or the close, answering pings on the way.
    /// Pings do not extend the patience: a server that only pings is stuck.
    pub async fn receive(&mut self) -> Received {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .expect("the server answered in time");
            match next {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("json");
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    if value["type"] == "ka" {
                        continue;
                    }
                    return Received::Message(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    return Received::Closed(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Received::Closed(None),
            }
        }
    }

    pub async fn message(&mut self) -> Value {
        match self.receive().await {
            Received::Message(m) => m,
            Received::Closed(code) => panic!("closed with {code:?} while a message was expected"),
        }
    }

    /// The data of the next `next` message of subscription `id`.
    pub async fn next_data(&mut self, id: &str) -> Value {
        let m = self.message().await;
        assert_eq!(
            (m["type"].as_str(), m["id"].as_str()),
            (Some("next"), Some(id)),
            "{m}"
        );
        assert!(m["payload"].get("errors").is_none(), "{m}");
        m["payload"]["data"].clone()
    }

    /// Whether nothing arrives for `wait`: for what must not happen yet.
    pub async fn quiet_for(&mut self, wait: std::time::Duration) -> bool {
        tokio::time::timeout(wait, self.receive()).await.is_err()
    }

    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            if let Received::Closed(code) = self.receive().await {
                return code;
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
