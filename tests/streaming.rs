//! A 150 MB module zip is fetched, hashed, stored and served while the server's memory stays
//! small: zips are streamed from disk, never held whole.

use crate::common::{Sandbox, assert_same_as_direct, incompressible_bytes};

/// Peak resident memory of a process, from /proc (kB).
fn peak_resident_kilobytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("VmHWM in /proc status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_150_megabyte_zip_streams_through_a_small_server() {
    const ZIP_PAYLOAD: usize = 150 * 1024 * 1024;
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("huge.git");
    // Storing the blob uncompressed keeps git fast; the module zip is what matters here.
    repo.git(&["config", "core.compression", "0"]);
    repo.write("go.mod", "module example.test/huge.git\n\ngo 1.19\n")
        .write("huge.go", "package huge\n")
        .write(
            "testdata/payload.bin",
            incompressible_bytes(ZIP_PAYLOAD, 150),
        );
    repo.commit("huge");
    repo.tag("v1.0.0");

    let server = sandbox.start_server();
    let baseline = peak_resident_kilobytes(server.pid());
    assert_same_as_direct(&sandbox, &server, "huge", &["example.test/huge.git@v1.0.0"]);
    let zip = server.get("/example.test/huge.git/@v/v1.0.0.zip");
    assert_eq!(zip.status, 200);
    assert!(
        zip.body.len() > ZIP_PAYLOAD,
        "the zip holds the whole payload ({} bytes)",
        zip.body.len()
    );

    let peak = peak_resident_kilobytes(server.pid());
    eprintln!(
        "server peak RSS: {peak} kB (at start {baseline} kB) for a {} byte zip",
        zip.body.len()
    );
    // A buffered zip would need at least its own size; the bound leaves room for the runtime,
    // SQLite and I/O buffers while staying far below one copy of the zip.
    assert!(
        peak < 64 * 1024,
        "server peak RSS {peak} kB while handling a 150 MB zip"
    );
}
