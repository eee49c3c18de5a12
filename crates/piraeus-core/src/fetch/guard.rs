//! The egress guard: a loopback HTTP proxy that the go command and git are made to use
//! (`HTTPS_PROXY`, `HTTP_PROXY`, git's `http.proxy`). Each `CONNECT host:port` (https) or
//! absolute-URI request (plain http) has its host resolved and judged by the policy
//! ([`Policy::egress_addresses`]) before anything is sent, and the connection goes to the
//! addresses judged, so a name cannot resolve one way for the check and another for the
//! connection. What a module path names is judged before the go command starts; this catches
//! what it names only later: go-import tags, redirects, the hosts of submodules.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::policy::{Policy, Refusal};

/// A request head larger than this is refused: the go command's and git's are far smaller.
const MAX_HEAD: usize = 16 << 10;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The running guard; it stops when dropped.
pub(crate) struct EgressGuard {
    address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EgressGuard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the guard lets through besides what the policy allows: the hosts the operator named
/// (the upstream proxies), which may be anywhere.
struct Judge {
    policy: Arc<Policy>,
    trusted: Vec<String>,
}

impl EgressGuard {
    /// Listens on a free loopback port. `trusted` hosts are connected to wherever they resolve.
    pub(crate) async fn start(policy: Arc<Policy>, trusted: Vec<String>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let judge = Arc::new(Judge { policy, trusted });
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let judge = judge.clone();
                tokio::spawn(async move {
                    if let Err(error) = judge.serve(client).await {
                        tracing::debug!(%error, "egress guard connection ended");
                    }
                });
            }
        });
        Ok(Self { address, task })
    }

    /// The proxy URL for the child's environment.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// A request head as the guard needs it.
struct Head<'a> {
    method: &'a str,
    host: String,
    port: u16,
    /// For plain http: the head to send on, in origin form, asking the server to close.
    forward: Option<Vec<u8>>,
}

impl Judge {
    async fn serve(&self, mut client: TcpStream) -> std::io::Result<()> {
        let (head, rest) = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client)).await {
            Ok(Ok(read)) => read,
            Ok(Err(error)) => return Err(error),
            Err(_) => return Ok(()),
        };
        let text = String::from_utf8_lossy(&head);
        let head = match parse_head(&text) {
            Ok(head) => head,
            Err(reason) => return answer(&mut client, "400 Bad Request", reason).await,
        };
        let trusted = self
            .trusted
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&head.host));
        let addresses = self
            .policy
            .egress_addresses(&head.host, head.port, trusted)
            .await;
        let addresses: Vec<SocketAddr> = match addresses {
            Ok(addresses) => addresses,
            Err(refusal) => {
                let reason = refusal.reason();
                tracing::warn!(
                    host = head.host,
                    port = head.port,
                    reason,
                    "the egress guard refused a connection"
                );
                // As the go command and git tell them apart: refused, no such host (not
                // found), or a failure that may pass (cannot connect).
                let status = match refusal {
                    Refusal::Internal(_) => "403 Forbidden",
                    Refusal::Unresolved {
                        no_such_host: true, ..
                    } => "404 Not Found",
                    Refusal::Unresolved { .. } => "502 Bad Gateway",
                };
                let reason = format!("the egress guard refused {}: {reason}", head.host);
                return answer(&mut client, status, &reason).await;
            }
        };
        let Some(mut server) = connect(&addresses).await else {
            tracing::warn!(
                host = head.host,
                port = head.port,
                "the egress guard could not connect"
            );
            let reason = format!("the egress guard could not connect to {}", head.host);
            return answer(&mut client, "502 Bad Gateway", &reason).await;
        };
        match &head.forward {
            Some(forward) => server.write_all(forward).await?,
            None if head.method == "CONNECT" => {
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await?
            }
            None => unreachable!("a plain request has a head to forward"),
        }
        server.write_all(&rest).await?;
        tokio::io::copy_bidirectional(&mut client, &mut server).await?;
        Ok(())
    }
}

async fn connect(addresses: &[SocketAddr]) -> Option<TcpStream> {
    for address in addresses {
        if let Ok(Ok(stream)) =
            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await
        {
            return Some(stream);
        }
    }
    None
}

async fn answer(client: &mut TcpStream, status: &str, reason: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{reason}",
        reason.len()
    );
    client.write_all(response.as_bytes()).await?;
    client.shutdown().await
}

/// The request head (through the blank line) and whatever the client sent after it.
async fn read_head(client: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let read = client.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok((buffer, rest));
        }
        if buffer.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
    }
}

/// `CONNECT host:port HTTP/1.1`, or `METHOD http://host[:port]/path HTTP/1.1` with headers.
fn parse_head(text: &str) -> Result<Head<'_>, &'static str> {
    let mut lines = text.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed request line");
    };
    if method == "CONNECT" {
        let (host, port) = split_host_port(target, None)?;
        return Ok(Head {
            method,
            host,
            port,
            forward: None,
        });
    }
    let rest = target
        .strip_prefix("http://")
        .ok_or("only CONNECT and http:// requests go through the egress guard")?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let (host, port) = split_host_port(authority, Some(80))?;
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let mut forward = format!("{method} {path} {version}\r\n");
    for line in lines.filter(|line| !line.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim();
        let hop_by_hop = [
            "connection",
            "proxy-connection",
            "keep-alive",
            "proxy-authorization",
        ]
        .iter()
        .any(|hop| name.eq_ignore_ascii_case(hop));
        if !hop_by_hop {
            forward.push_str(line);
            forward.push_str("\r\n");
        }
    }
    // One request per connection: a client reusing it for another host would reach this one.
    forward.push_str("Connection: close\r\n\r\n");
    Ok(Head {
        method,
        host,
        port,
        forward: Some(forward.into_bytes()),
    })
}

/// `host:port`, `[v6]:port`, or a host alone when there is a `default` port.
fn split_host_port(authority: &str, default: Option<u16>) -> Result<(String, u16), &'static str> {
    if authority.contains('@') {
        return Err("credentials in the request target");
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            (host, port.parse().map_err(|_| "a malformed port")?)
        }
        _ => (authority, default.ok_or("no port")?),
    };
    if host.is_empty() {
        return Err("no host");
    }
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_read_as_proxies_read_them() {
        let connect =
            parse_head("CONNECT Git.Example:443 HTTP/1.1\r\nHost: git.example:443\r\n").unwrap();
        assert_eq!((connect.host.as_str(), connect.port), ("git.example", 443));
        assert!(connect.forward.is_none());
        let v6 = parse_head("CONNECT [::1]:8443 HTTP/1.1\r\n").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("[::1]", 8443));

        let plain = parse_head(
            "GET http://meta.example/m?go-get=1 HTTP/1.1\r\nHost: meta.example\r\nProxy-Connection: keep-alive\r\nUser-Agent: Go\r\n",
        )
        .unwrap();
        assert_eq!((plain.host.as_str(), plain.port), ("meta.example", 80));
        assert_eq!(
            String::from_utf8(plain.forward.unwrap()).unwrap(),
            "GET /m?go-get=1 HTTP/1.1\r\nHost: meta.example\r\nUser-Agent: Go\r\nConnection: close\r\n\r\n"
        );
        let query = parse_head("GET http://h.example:8080?x HTTP/1.1\r\n").unwrap();
        assert_eq!(query.port, 8080);
        assert!(
            String::from_utf8(query.forward.unwrap())
                .unwrap()
                .starts_with("GET /?x HTTP/1.1")
        );

        for bad in [
            "GET /relative HTTP/1.1\r\n",
            "GET https://h.example/ HTTP/1.1\r\n",
            "CONNECT h.example HTTP/1.1\r\n",
            "CONNECT h.example:x HTTP/1.1\r\n",
            "CONNECT u:p@h.example:443 HTTP/1.1\r\n",
            "GET http:///x HTTP/1.1\r\n",
            "nonsense\r\n",
        ] {
            assert!(parse_head(bad).is_err(), "{bad:?}");
        }
    }
}
