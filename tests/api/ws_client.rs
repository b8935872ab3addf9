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
        Self::connect_over(url, protocol, None).await
    }

    /// Connects over a TCP socket whose receive buffer is `window` bytes
    /// (None: the system's), so that a client that stops reading soon holds
    /// the server back.
    async fn connect_over(url: &str, protocol: &str, window: Option<u32>) -> Self {
        let mut request = url.into_client_request().expect("a ws url");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(protocol).expect("header"),
        );
        let host = request.uri().host().expect("a host").to_owned();
        let port = request.uri().port_u16().expect("a port");
        let address = tokio::net::lookup_host((host.as_str(), port))
            .await
            .expect("resolves")
            .next()
            .expect("an address");
        let tcp = if address.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .expect("a socket");
        if let Some(window) = window {
            tcp.set_recv_buffer_size(window).expect("sized");
        }
        let stream = tcp.connect(address).await.expect("connects");
        let (socket, response) =
            tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
                .await
                .expect("upgrades");
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
        Self::signed_in_over(url, token, None).await
    }

    /// Like `signed_in`, over a socket with a small receive buffer: what it
    /// does not read soon backs up into the server.
    pub async fn signed_in_narrow(url: &str, token: &str) -> Self {
        Self::signed_in_over(url, token, Some(4096)).await
    }

    async fn signed_in_over(url: &str, token: &str, window: Option<u32>) -> Self {
        let mut client = Self::connect_over(url, "graphql-transport-ws", window).await;
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

    /// Sends, unless the server has let the socket go.
    pub async fn try_send(&mut self, message: Value) -> bool {
        let text = Message::Text(message.to_string().into());
        self.socket.send(text).await.is_ok()
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
