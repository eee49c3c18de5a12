//! Where the fetcher may connect, judged by address: a name is resolved, and a loopback,
//! private, shared (CGNAT), link-local (the cloud metadata address among them), unique-local,
//! multicast or unspecified answer is internal. The policy applies it to a module's host before
//! anything runs; the egress guard and the native upstream client to every host they are sent
//! to. Pins (`--egress-pin`) answer for names the way `/etc/hosts` would, for tests and for
//! names only the operator's resolver knows; what they answer is judged like any answer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One `HOST:PORT=ADDRESS:PORT`: connections to `host:port` go to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    host: String,
    port: u16,
    to: SocketAddr,
}

impl Pin {
    /// `HOST:PORT=ADDRESS:PORT` (an IPv6 address in brackets).
    pub fn parse(text: &str) -> Result<Self, String> {
        let malformed = || format!("{text:?} is not HOST:PORT=ADDRESS:PORT");
        let (from, to) = text.trim().split_once('=').ok_or_else(malformed)?;
        let (host, port) = from.rsplit_once(':').ok_or_else(malformed)?;
        let port = port.parse().map_err(|_| malformed())?;
        let to = to.parse().map_err(|_| malformed())?;
        if host.is_empty() || host.contains(['/', '@', ' ']) {
            return Err(malformed());
        }
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
            to,
        })
    }
}

/// Finds the addresses of a host: pinned, literal, or from the system's resolver.
#[derive(Debug, Default)]
pub(crate) struct HostResolver {
    pins: Vec<Pin>,
}

/// How long a name may take to resolve.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl HostResolver {
    pub(crate) fn new(pins: Vec<Pin>) -> Self {
        Self { pins }
    }

    /// Port 0: any port (a client that sets the port itself, as reqwest does); a pin for any
    /// port of the host answers.
    pub(crate) async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(address) = bare.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(address, port)]);
        }
        let pinned: Vec<SocketAddr> = self
            .pins
            .iter()
            .filter(|pin| (pin.port == port || port == 0) && pin.host.eq_ignore_ascii_case(host))
            .map(|pin| pin.to)
            .collect();
        if !pinned.is_empty() {
            return Ok(pinned);
        }
        // An outsider's module path picks the name: a resolver that never answers must not
        // hold the request (or a fetch slot) for getaddrinfo's own retries.
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(addresses) => Ok(addresses?.collect()),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {}s", RESOLVE_TIMEOUT.as_secs()),
            )),
        }
    }
}

/// What kind of internal address `address` is; `None` for one on the internet.
pub(crate) fn internal_address(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => internal_v6(v6),
        },
    }
}

fn internal_v4(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = address.octets();
    if address.is_loopback() {
        Some("loopback")
    } else if address.is_private() {
        Some("private (RFC 1918)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (CGNAT)")
    } else if address.is_link_local() {
        Some("link-local")
    } else if address.is_multicast() {
        Some("multicast")
    } else if a == 0 {
        Some("unspecified")
    } else if a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn internal_v6(address: Ipv6Addr) -> Option<&'static str> {
    let first = address.segments()[0];
    if address.is_loopback() {
        Some("loopback")
    } else if address.is_unspecified() {
        Some("unspecified")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique-local")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if address.is_multicast() {
        Some("multicast")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_named_and_public_ones_pass() {
        for (address, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("::1", "loopback"),
            ("10.1.2.3", "private (RFC 1918)"),
            ("172.16.0.1", "private (RFC 1918)"),
            ("172.31.255.255", "private (RFC 1918)"),
            ("192.168.1.1", "private (RFC 1918)"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.127.255.255", "shared (CGNAT)"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("255.255.255.255", "reserved"),
            ("::ffff:10.0.0.1", "private (RFC 1918)"),
            ("::ffff:169.254.169.254", "link-local"),
        ] {
            assert_eq!(
                internal_address(address.parse().unwrap()),
                Some(kind),
                "{address}"
            );
        }
        for public in [
            "140.82.112.3",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
        ] {
            assert_eq!(internal_address(public.parse().unwrap()), None, "{public}");
        }
    }

    #[tokio::test]
    async fn pins_answer_for_their_host_and_port_only() {
        let resolver = HostResolver::new(vec![
            Pin::parse("Meta.Localtest:80=127.0.0.1:8080").unwrap(),
            Pin::parse("v6.localtest:443=[::1]:8443").unwrap(),
        ]);
        assert_eq!(
            resolver.resolve("meta.localtest", 80).await.unwrap(),
            ["127.0.0.1:8080".parse().unwrap()]
        );
        assert_eq!(
            resolver.resolve("v6.localtest", 443).await.unwrap(),
            ["[::1]:8443".parse().unwrap()]
        );
        assert_eq!(
            resolver.resolve("10.0.0.1", 22).await.unwrap(),
            ["10.0.0.1:22".parse().unwrap()]
        );
        assert_eq!(
            resolver.resolve("[fd00::1]", 443).await.unwrap(),
            ["[fd00::1]:443".parse().unwrap()]
        );
        for bad in [
            "meta:80",
            "meta=1.2.3.4:5",
            ":80=1.2.3.4:5",
            "a:x=1.2.3.4:5",
            "a:1=b:2",
        ] {
            assert!(Pin::parse(bad).is_err(), "{bad}");
        }
    }
}
