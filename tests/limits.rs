//! The server's own limits: slow or idle clients cannot hold the connections live clients
//! need, and shutdown does not wait on them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{Sandbox, http_get};

/// Lets this test process open as many sockets as its hard limit allows; returns that limit.
fn raise_open_file_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    limit.rlim_max as usize
}

#[test]
fn connections_that_never_finish_their_headers_are_closed_and_do_not_starve_others() {
    // 1,500, or what this machine's open-file limit leaves room for (the server's is the same).
    let count = 1500.min(raise_open_file_limit().saturating_sub(300));
    let sandbox = Sandbox::new();
    let server = sandbox.start_server_with(&["--header-timeout", "3s"], &[]);
    let opened = Instant::now();
    let mut slow: Vec<TcpStream> = (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(&server.address).unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: slow\r\n")
                .unwrap();
            stream
        })
        .collect();

    // Live clients are still answered within a second, as the acceptance asks (measured:
    // 0.4 to 9 ms on a busy 2-core machine).
    for _ in 0..5 {
        let asked = Instant::now();
        let response = http_get(&server.address, "/healthz").unwrap();
        assert_eq!(response.status, 200);
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "/healthz took {:?} beside 1,500 slow connections",
            asked.elapsed()
        );
    }

    // After the header timeout the server has closed every one of them.
    std::thread::sleep(Duration::from_secs(4).saturating_sub(opened.elapsed()));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut open = slow.len();
    while open > 0 && Instant::now() < deadline {
        open = 0;
        for stream in &mut slow {
            stream
                .set_read_timeout(Some(Duration::from_millis(1)))
                .unwrap();
            let mut byte = [0u8; 512];
            match stream.read(&mut byte) {
                // Closed (possibly after a 408 the server chose to send).
                Ok(0) | Err(_) if !would_block(stream) => {}
                _ => open += 1,
            }
        }
    }
    assert_eq!(open, 0, "connections still open after the header timeout");
}

/// Whether the socket is merely quiet (still open) rather than closed.
fn would_block(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let quiet =
        matches!(stream.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).unwrap();
    quiet
}

#[test]
fn idle_keep_alive_connections_are_closed_and_shutdown_does_not_wait_for_them() {
    let sandbox = Sandbox::new();
    let mut server =
        sandbox.start_server_with(&["--idle-timeout", "2s", "--shutdown-timeout", "5s"], &[]);
    // A keep-alive connection that asked once and then went quiet.
    let mut idle = TcpStream::connect(&server.address).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: idle\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let read = idle.read(&mut answer).unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    let asked = Instant::now();
    let closed = idle.read(&mut answer).unwrap_or(0);
    assert_eq!(closed, 0, "the server closes an idle connection");
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(8),
        "closed after {waited:?}, expected about the 2 s idle timeout"
    );

    // SIGTERM with a quiet keep-alive connection open: the server exits at once, not when the
    // connection's own timeout comes.
    let mut quiet = TcpStream::connect(&server.address).unwrap();
    quiet
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: quiet\r\n\r\n")
        .unwrap();
    let _ = quiet.read(&mut answer).unwrap();
    let stopping = Instant::now();
    // SAFETY: signalling the child process this test started.
    unsafe { libc::kill(server.pid() as i32, libc::SIGTERM) };
    let exited = server.wait_for_exit(Duration::from_secs(10));
    assert!(exited, "the server did not exit after SIGTERM");
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "shutdown took {:?}",
        stopping.elapsed()
    );
}

#[test]
fn connections_beyond_the_cap_are_closed_unanswered_until_a_slot_frees() {
    let cap = 8;
    let sandbox = Sandbox::new();
    let server = sandbox.start_server_with(&["--max-connections", &cap.to_string()], &[]);
    // The start-up health check's connection may still hold its slot for a moment.
    std::thread::sleep(Duration::from_millis(200));
    // `cap` connections that hold their slots: headers begun, never finished (the header
    // timeout, 10 s by default, outlasts the test's use of them).
    let held: Vec<TcpStream> = (0..cap)
        .map(|_| {
            let mut stream = TcpStream::connect(&server.address).unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: held\r\n")
                .unwrap();
            stream
        })
        .collect();

    // One more: the kernel accepts it, the server closes it without an answer.
    let mut refused = TcpStream::connect(&server.address).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ =
        refused.write_all(b"GET /healthz HTTP/1.1\r\nHost: refused\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    match refused.read_to_end(&mut answer) {
        Ok(_) => assert!(
            answer.is_empty(),
            "answered beyond the cap: {}",
            String::from_utf8_lossy(&answer)
        ),
        Err(error) => assert_eq!(
            error.kind(),
            std::io::ErrorKind::ConnectionReset,
            "closed, not left open"
        ),
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.log().contains("connection limit reached") {
        assert!(
            Instant::now() < deadline,
            "the refusal is not logged:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Once the held connections go, new ones are served again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match http_get(&server.address, "/healthz") {
            Ok(response) if response.status == 200 => break,
            other => assert!(
                Instant::now() < deadline,
                "not served after the slots freed: {:?}",
                other.map(|response| response.status)
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
